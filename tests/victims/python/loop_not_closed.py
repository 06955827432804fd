"""A script drives an event loop with run_until_complete() and never closes it (its epoll set
stays open): code between the runs is not on a running loop. The sleep inside the second run
is."""
import asyncio
import time


async def step(block):
    await asyncio.sleep(0.005)
    if block:
        time.sleep(0.02)  # BLOCK-IN-RUN


loop = asyncio.new_event_loop()
loop.run_until_complete(step(False))
time.sleep(0.02)  # between runs: not a finding
loop.run_until_complete(step(True))
time.sleep(0.02)  # after: not a finding
print("done")
