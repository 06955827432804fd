"""A loop that starts running and stalls before it ever waits: first a real asyncio loop on the
main thread, then a pause off any loop, then a loop whose selector is a mock (as in CPython's
own asyncio tests) runs a coroutine that spins for 400 ms, while a loop on another thread keeps
ticking. The stall's duration counts from when the loop started, not from nothing (it was the
machine's uptime)."""
import asyncio
import threading
import time
from unittest import mock

stop = threading.Event()


async def tick():
    while not stop.is_set():
        await asyncio.sleep(0.02)


def spin_for(seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:  # STALL-HERE
        pass


async def spin():
    spin_for(0.4)


ticker = threading.Thread(target=asyncio.run, args=(tick(),))
ticker.start()
asyncio.run(asyncio.sleep(0.01))
time.sleep(0.3)
loop = asyncio.new_event_loop()
selector = loop._selector
loop._selector = mock.Mock()
loop._selector.select.return_value = []
loop.run_until_complete(spin())
loop._selector = selector
loop.close()
stop.set()
ticker.join()
print("done")
