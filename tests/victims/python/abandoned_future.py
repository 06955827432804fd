"""Seed 001: asyncio.run_coroutine_threadsafe and a coroutine that raises SystemExit.

`abandoned_future.py MODE`:
  systemexit  the seed's program: f() raises SystemExit on the loop thread, the loop and its
              thread die, and the main thread waits in future.result() for ever (the test
              kills it)
  timeout     KeyboardInterrupt instead; main first waits with a timeout (times out), then
              calls future.exception() without one (waits for ever)
  closed      the loop is stopped and closed while a submitted coroutine never ran; main
              then asks result(timeout=0.5)
  clean       the seed's first program: f() raises ValueError, result() re-raises it
  collected   a loop that SystemExit ended, closed and dropped, is garbage: prints
              "collected" (loopsan once kept every such loop alive through the exception)
"""
import asyncio
import concurrent.futures
import sys
import threading


def start_loop(loop):
    asyncio.set_event_loop(loop)
    loop.run_forever()


async def f(mode):
    print("Inside coroutine f()", flush=True)
    if mode == "systemexit":
        raise SystemExit
    if mode == "timeout":
        raise KeyboardInterrupt
    raise ValueError()


async def never(gate):
    await gate


def main(mode):
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=start_loop, args=(loop,), name="loop-thread")
    thread.start()
    if mode == "closed":
        gate = concurrent.futures.Future()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        future = asyncio.run_coroutine_threadsafe(never(gate), loop)
        loop.close()
        try:
            future.result(timeout=0.5)
        except concurrent.futures.TimeoutError:
            print("Timeout", flush=True)
        return
    future = asyncio.run_coroutine_threadsafe(f(mode), loop)
    if mode == "timeout":
        try:
            future.result(timeout=0.5)
        except concurrent.futures.TimeoutError:
            print("Timeout", flush=True)
        print("waiting for the exception", flush=True)
        future.exception()
    try:
        future.result()
    except BaseException as e:
        print(f"Caught exception: {e!r}", flush=True)
    finally:
        print("Stopping loop", flush=True)
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


def collected():
    import gc
    import weakref

    async def boom():
        raise SystemExit

    loop = asyncio.new_event_loop()
    task = loop.create_task(boom())
    try:
        loop.run_forever()
    except SystemExit:
        pass
    task.exception()  # retrieved: this mode is about the loop, not a lost exception
    loop.close()
    ref = weakref.ref(loop)
    del loop, task
    gc.collect()
    print("collected" if ref() is None else "kept", flush=True)


if sys.argv[1] == "collected":
    collected()
else:
    main(sys.argv[1])
