"""A coroutine waits for a concurrent.futures future on the loop thread (instead of awaiting
asyncio.wrap_future(future)) while the worker sleeps 300 ms. The worker's sleep is off the loop:
not a finding.

CPython 3.11: Future.result() (Lib/concurrent/futures/_base.py) -> Condition.wait() with no
timeout (Lib/threading.py) -> the waiter lock's acquire() -> sem_wait()."""
import asyncio
import concurrent.futures
import time

executor = concurrent.futures.ThreadPoolExecutor(max_workers=1)
executor.submit(int).result()  # the worker thread exists before the loop starts


async def compute():
    future = executor.submit(time.sleep, 0.3)
    return future.result()  # BLOCKING-CALL-HERE


async def main():
    await asyncio.sleep(0)
    assert await compute() is None


asyncio.run(main())
executor.shutdown()
print("done")
