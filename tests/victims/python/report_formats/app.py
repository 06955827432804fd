"""Two blocking calls on an asyncio loop, each in a function named `run`, in two files.

    python3 app.py app|jobs|both

A suppression rule naming only `run` would silence both; the rules `loopsan report
--suppressions` writes name the file too (tests/integration/report_formats_test.cc).
"""
import asyncio
import sys
import time

import jobs


def run():
    time.sleep(0.02)  # BLOCKING-IN-APP


async def main(mode):
    if mode in ("app", "both"):
        run()
    if mode in ("jobs", "both"):
        jobs.run()


asyncio.run(main(sys.argv[1]))
print("done")
