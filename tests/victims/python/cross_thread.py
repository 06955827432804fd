"""Seed 000 section 4: asyncio objects used from a thread other than their loop's.

`cross_thread.py MODE [uvloop]`: a worker thread hands a value to a coroutine that waits on the loop,
the wrong way (MODE = queue, future, call_soon, create_task, event, call_later) or the right
way (MODE = clean: call_soon_threadsafe / run_coroutine_threadsafe for all of them).
"""
import asyncio
import sys
import threading
import time


async def noop():
    return None


def thread_worker(mode, loop, queue, future, event):
    time.sleep(0.05)  # let the coroutine start waiting
    if mode == "queue":
        queue.put_nowait("item")  # NOT THREAD-SAFE (the seed's own line)
    elif mode == "future":
        future.set_result("item")
    elif mode == "call_soon":
        loop.call_soon(queue.put_nowait, "item")
    elif mode == "call_later":
        loop.call_later(0.01, queue.put_nowait, "item")
    elif mode == "create_task":
        loop.create_task(noop())
        time.sleep(0.05)
        loop.call_soon_threadsafe(queue.put_nowait, "item")
    elif mode == "event":
        event.set()
    else:  # clean: the thread-safe ways
        loop.call_soon_threadsafe(queue.put_nowait, "item")
        loop.call_soon_threadsafe(future.set_result, "item")
        loop.call_soon_threadsafe(event.set)
        asyncio.run_coroutine_threadsafe(noop(), loop).result()


async def main(mode):
    loop = asyncio.get_running_loop()
    queue, future, event = asyncio.Queue(), loop.create_future(), asyncio.Event()
    worker = threading.Thread(target=thread_worker, args=(mode, loop, queue, future, event))
    await loop.run_in_executor(None, worker.start)  # Thread.start() waits: off the loop
    if mode == "future":
        await asyncio.wait_for(future, 5)
    elif mode == "event":
        await asyncio.wait_for(event.wait(), 5)
    else:
        await asyncio.wait_for(queue.get(), 5)
        if mode == "clean":
            await asyncio.wait_for(future, 5)
            await asyncio.wait_for(event.wait(), 5)
    await loop.run_in_executor(None, worker.join)
    print("done", mode)


if sys.argv[2:] == ["uvloop"]:
    import uvloop

    uvloop.install()
asyncio.run(main(sys.argv[1]))
