"""pool-starvation through executor.submit from a coroutine (seed 003: "limit max_workers" gone
wrong): a pool of 2 workers gets 6 slow renders at once; the coroutine awaits them with
asyncio.wrap_future. The finding names render_page, submit, the coroutine render_all and the
pool 'renderer'."""
import asyncio
import concurrent.futures
import time


def render_page(n):
    time.sleep(1)  # blocking work holding one of the two workers
    return n


async def render_all(executor):
    futures = [asyncio.wrap_future(executor.submit(render_page, n)) for n in range(6)]
    return await asyncio.gather(*futures)


async def main():
    with concurrent.futures.ThreadPoolExecutor(max_workers=2,
                                               thread_name_prefix="renderer") as executor:
        print(len(await render_all(executor)))


if __name__ == "__main__":
    asyncio.run(main())
