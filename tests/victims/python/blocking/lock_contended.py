"""A coroutine takes a threading.Lock that another thread holds until 300 ms after the coroutine
started waiting.

CPython 3.11: Lock.__enter__ -> acquire_timed: sem_trywait() with the GIL held, then, GIL
released, PyThread_acquire_lock_timed(lock, -1) -> sem_wait(). No Python frame above the
coroutine: `with lock` calls C directly."""
import asyncio
import threading
import time

lock = threading.Lock()
held = threading.Event()
waiting = threading.Event()


def holder():
    with lock:
        held.set()
        waiting.wait()
        time.sleep(0.3)


t = threading.Thread(target=holder)
t.start()
held.wait()  # before the loop: the lock is held from here on


async def update_shared_state():
    waiting.set()
    with lock:  # BLOCKING-CALL-HERE
        return 1


async def main():
    await asyncio.sleep(0)
    assert await update_shared_state() == 1


asyncio.run(main())
t.join()
print("done")
