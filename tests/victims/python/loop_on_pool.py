"""Seed 000 section 1 and seed 002 example 3: event loops started inside thread-pool workers.

`loop_on_pool.py MODE`:
  pool     each task of a ThreadPoolExecutor runs asyncio.run() (the seed's anti-pattern)
  reused   a hand-written worker thread runs one asyncio.run() per job (a pool by another name)
  clean    a dedicated thread runs one loop (new_event_loop + run_forever) and the pool's
           tasks hand coroutines to it with run_coroutine_threadsafe; main runs asyncio.run
           twice (scripts and unittest do)
"""
import asyncio
import queue
import sys
import threading
from concurrent.futures import ThreadPoolExecutor


async def fetch(i):
    await asyncio.sleep(0.01)
    return i * 2


def handle_request(i):
    return asyncio.run(fetch(i))


def job_worker(jobs, results):
    while (i := jobs.get()) is not None:
        results.append(asyncio.run(fetch(i)))


def main(mode):
    if mode == "pool":
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="requests") as pool:
            print(sorted(pool.map(handle_request, range(5))))
    elif mode == "reused":
        jobs, results = queue.Queue(), []
        worker = threading.Thread(target=job_worker, args=(jobs, results), name="job-worker")
        worker.start()
        for i in range(3):
            jobs.put(i)
        jobs.put(None)
        worker.join()
        print(sorted(results))
    else:
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="loop-thread")
        thread.start()
        with ThreadPoolExecutor(max_workers=2) as pool:
            run = lambda i: asyncio.run_coroutine_threadsafe(fetch(i), loop).result()
            print(sorted(pool.map(run, range(5))))
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()
        print(asyncio.run(fetch(1)), asyncio.run(fetch(2)))


main(sys.argv[1])
