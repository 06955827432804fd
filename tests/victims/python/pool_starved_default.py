"""Seed 002, example 2: blocking I/O offloaded with run_in_executor(None, ...) from many
coroutines at once. The default executor has min(32, cpu + 4) workers (6 on a 2-CPU machine):
with four times as many calls, most wait in its queue for a worker. pool-starvation names
blocking_io, run_in_executor and the coroutine that submitted it."""
import asyncio
import os
import time


def blocking_io():
    # Simulates a blocking I/O operation
    time.sleep(1)
    return "Result from Blocking I/O"


async def async_wrapper():
    loop = asyncio.get_running_loop()
    # Run blocking I/O on a thread pool
    result = await loop.run_in_executor(None, blocking_io)
    return result


async def main():
    workers = min(32, (os.cpu_count() or 1) + 4)
    tasks = [async_wrapper() for _ in range(2 * workers)]
    results = await asyncio.gather(*tasks)
    print(len(results))


if __name__ == "__main__":
    asyncio.run(main())
