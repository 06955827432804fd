"""A coroutine takes from an empty queue.Queue with a timeout.

CPython 3.11: Queue.get (Lib/queue.py) -> Condition.wait(0.3) (Lib/threading.py) -> the waiter
lock's acquire(True, 0.3) -> sem_clockwait(CLOCK_MONOTONIC) for 300 ms, then queue.Empty."""
import asyncio
import queue

jobs = queue.Queue()


async def next_job():
    try:
        return jobs.get(timeout=0.3)  # BLOCKING-CALL-HERE
    except queue.Empty:
        return None


async def main():
    await asyncio.sleep(0)
    assert await next_job() is None


asyncio.run(main())
print("done")
