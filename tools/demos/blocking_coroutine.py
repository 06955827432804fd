"""A tiny asyncio service: one request handler calls time.sleep() instead of
asyncio.sleep(), and every other request waits behind it."""
import asyncio
import time


async def lookup_user(user_id):
    time.sleep(0.2)  # the bug: a blocking call inside a coroutine
    return {"id": user_id}


async def heartbeat(stop):
    beats = 0
    while not stop.is_set():
        beats += 1
        await asyncio.sleep(0.01)
    return beats


async def main():
    stop = asyncio.Event()
    hb = asyncio.create_task(heartbeat(stop))
    await asyncio.sleep(0.05)
    started = time.monotonic()
    await asyncio.gather(*(lookup_user(i) for i in range(3)))
    print(f"3 lookups took {time.monotonic() - started:.2f} s (they should overlap)")
    stop.set()
    print(f"heartbeats: {await hb}")


asyncio.run(main())
