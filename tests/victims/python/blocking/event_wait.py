"""A coroutine waits on a threading.Event that nobody sets.

CPython 3.11: Event.wait(0.3) -> Condition.wait(0.3) (both Lib/threading.py, both named "wait")
-> the waiter lock's acquire(True, 0.3) -> sem_clockwait(CLOCK_MONOTONIC) for 300 ms (glibc
2.30+ has sem_clockwait; CPython then never calls sem_timedwait)."""
import asyncio
import threading

ready = threading.Event()


async def wait_for_ready():
    return ready.wait(0.3)  # BLOCKING-CALL-HERE


async def main():
    await asyncio.sleep(0)
    assert await wait_for_ready() is False


asyncio.run(main())
print("done")
