"""asyncio loops run in worker threads (seed 000, bug 1) and block there, twice in a row on
the same thread: each run is its own loop."""
import asyncio
import threading
import time


async def first_blocker():
    time.sleep(0.03)  # FIRST-BLOCK


async def second_blocker():
    time.sleep(0.03)  # SECOND-BLOCK


def worker():
    asyncio.run(first_blocker())
    time.sleep(0.01)  # between the two loops: not a finding
    asyncio.run(second_blocker())


t = threading.Thread(target=worker, name="loop-worker")
t.start()
t.join()
print("done")
