"""A coroutine spins on the CPU for 400 ms on the main thread's asyncio loop, with faulthandler
enabled (as pytest and CPython's regrtest do): faulthandler gives the main thread an alternate
signal stack too small for loopsan's sampler, and the stall's Python frames are named anyway."""
import asyncio
import faulthandler
import time

faulthandler.enable()


def spin_for(seconds):
    end = time.monotonic() + seconds
    total = 0
    while time.monotonic() < end:  # STALL-HERE
        total += 1
    return total


async def handler():
    await asyncio.sleep(0.01)
    spin_for(0.4)
    await asyncio.sleep(0.01)


asyncio.run(handler())
print("done")
