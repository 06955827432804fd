"""A coroutine spins on the CPU for 400 ms on an asyncio loop that runs in a worker thread (not
the main thread): a loop stall whose Python frames are named."""
import asyncio
import threading
import time


def spin_for(seconds):
    end = time.monotonic() + seconds
    total = 0
    while time.monotonic() < end:  # STALL-HERE
        total += 1
    return total


async def handler():
    await asyncio.sleep(0.01)
    spin_for(0.4)
    await asyncio.sleep(0.01)


def worker():
    asyncio.run(handler())


t = threading.Thread(target=worker, name="asyncio-loop")
t.start()
t.join()
print("done")
