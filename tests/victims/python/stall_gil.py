"""The asyncio loop (main thread) stalls waiting for the GIL: a worker thread runs pure Python
for 400 ms and, with a long switch interval, never lets go of it."""
import asyncio
import sys
import threading
import time

sys.setswitchinterval(5.0)


def hog():
    end = time.monotonic() + 0.4
    n = 0
    while time.monotonic() < end:  # GIL-HOG-HERE
        n += 1


async def main():
    await asyncio.sleep(0.02)
    t = threading.Thread(target=hog, name="gil-hog")
    t.start()
    await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    return t


asyncio.run(main()).join()
print("done")
