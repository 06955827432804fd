"""A sensor thread hands readings to a coroutine through an asyncio.Queue, with put_nowait()
called from the thread: asyncio objects are not thread-safe, and the loop does not even wake
up for the reading (it sleeps until its next timer). The fix is one line:
loop.call_soon_threadsafe(readings.put_nowait, value)."""
import asyncio
import threading
import time


def sensor(readings, sent_at):
    for value in range(3):
        time.sleep(0.1)
        sent_at.append(time.monotonic())
        readings.put_nowait(value)  # the bug: from a foreign thread


async def heartbeat():
    while True:
        await asyncio.sleep(0.3)


async def main():
    readings, sent_at = asyncio.Queue(), []
    beat = asyncio.create_task(heartbeat())
    await asyncio.sleep(0)
    thread = threading.Thread(target=sensor, args=(readings, sent_at), name="sensor")
    thread.start()
    for _ in range(3):
        value = await readings.get()
        late_ms = (time.monotonic() - sent_at[value]) * 1000
        print(f"reading {value} reached the coroutine {late_ms:.0f} ms after it was sent")
    beat.cancel()
    thread.join()


asyncio.run(main())
