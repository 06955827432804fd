"""The clean twin of pool_starved_default.py: the same blocking calls from as many coroutines,
on an executor sized for them (loop.set_default_executor), so no call waits for a worker; and
a batch through Executor.map on a small pool, whose tasks queue by design (map never counts as
starvation), and the same batch the way the concurrent.futures documentation's example does
it: submit() in a comprehension, then as_completed(). No finding."""
import asyncio
import concurrent.futures
import os
import time


def blocking_io():
    time.sleep(1)
    return "Result from Blocking I/O"


def short_job(n):
    time.sleep(0.05)
    return n


async def async_wrapper():
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, blocking_io)


async def main(calls):
    asyncio.get_running_loop().set_default_executor(
        concurrent.futures.ThreadPoolExecutor(max_workers=calls))
    print(len(await asyncio.gather(*(async_wrapper() for _ in range(calls)))))


if __name__ == "__main__":
    asyncio.run(main(2 * min(32, (os.cpu_count() or 1) + 4)))
    # 40 jobs of 50 ms over 2 workers: the last waits about a second in the queue.
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        print(sum(pool.map(short_job, range(40))))
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        futures = {pool.submit(short_job, n): n for n in range(40)}
        print(sum(f.result() for f in concurrent.futures.as_completed(futures)))
