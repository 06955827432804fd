"""A program that closes every descriptor it does not know (as daemons and subprocess
children do) between two findings: both must be in the report."""
import asyncio
import os
import time


async def before():
    time.sleep(0.02)  # BEFORE-CLOSE


async def after():
    time.sleep(0.02)  # AFTER-CLOSE


asyncio.run(before())
os.closerange(3, 65536)
files = [open("/dev/null") for _ in range(8)]  # take the low numbers again
asyncio.run(after())
print("done")
