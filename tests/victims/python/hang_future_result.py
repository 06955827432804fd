# Seed 001: asyncio.run_coroutine_threadsafe() on a loop thread, and a coroutine that raises
# SystemExit. The task re-raises it instead of setting it on the concurrent future, the loop
# thread dies, and main waits in future.result() for ever (a hung wait).
import asyncio
import sys
import threading


async def f():
    print("Inside coroutine f()", flush=True)
    raise SystemExit


def start_loop(loop):
    asyncio.set_event_loop(loop)
    loop.run_forever()


def main():
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=start_loop, args=(loop,), daemon=True)
    thread.start()
    future = asyncio.run_coroutine_threadsafe(f(), loop)
    try:
        result = future.result()  # HANG-CALL
        print("result", result)
    except BaseException as e:
        print("Caught exception:", repr(e))
    print("Stopping loop")
    loop.call_soon_threadsafe(loop.stop)


main()
