"""pool-starvation through asyncio.to_thread: twice as many coroutines as the default
executor has workers (min(32, cpu + 4)) each hand a blocking lookup to a thread. The finding
names blocking_lookup, to_thread and the coroutine resolve_host that submitted it."""
import asyncio
import os
import time


def blocking_lookup(name):
    time.sleep(1)  # a blocking resolver call holding a worker
    return name.upper()


async def resolve_host(name):
    return await asyncio.to_thread(blocking_lookup, name)


async def main():
    workers = min(32, (os.cpu_count() or 1) + 4)
    names = [f"host{i}" for i in range(2 * workers)]
    print(len(await asyncio.gather(*(resolve_host(n) for n in names))))


if __name__ == "__main__":
    asyncio.run(main())
