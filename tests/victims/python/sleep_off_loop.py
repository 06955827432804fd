"""Blocking where it is allowed: in the default executor, in a plain thread, and after
asyncio.run() has returned (its loop is closed). loopsan must report nothing."""
import asyncio
import threading
import time


def blocking_io():
    time.sleep(0.02)
    return "io"


async def main():
    loop = asyncio.get_running_loop()
    result = await loop.run_in_executor(None, blocking_io)
    assert result == "io"
    await asyncio.sleep(0.01)


asyncio.run(main())
t = threading.Thread(target=time.sleep, args=(0.02,))
t.start()
t.join()
time.sleep(0.02)  # the loop is closed: main is no loop thread any more
asyncio.run(main())  # a second loop, possibly on the same descriptor number
time.sleep(0.02)
print("done")
