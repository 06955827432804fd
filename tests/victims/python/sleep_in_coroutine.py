"""A coroutine calls time.sleep: it freezes every other task of the loop (seed 002, example 1)."""
import asyncio
import time


async def slow_handler():
    time.sleep(0.05)  # BLOCKING-CALL-HERE
    return 42


async def main():
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.001)

    t = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    assert await slow_handler() == 42
    t.cancel()


asyncio.run(main())
print("done")
