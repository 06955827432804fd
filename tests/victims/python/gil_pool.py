"""gil-contention victims and clean twins: the same CPU-bound function, or I/O-bound work,
run for about 2 s (long enough for a 200 ms rule to see it clearly on a loaded machine).

usage: gil_pool.py MODE
  threads    cpu_bound in a ThreadPoolExecutor of 4 workers (the seed's pitfall): reported
  executor   cpu_bound from asyncio's run_in_executor, in a pool of 2 workers named "crunch"
             (the rule's edge: 2 workers wait for the GIL half of the time): reported
  processes  the same work in a ProcessPoolExecutor: clean (a GIL per process)
  single     one CPU-bound worker while the main thread waits for it: clean (nobody to
             contend with)
  sleep      4 workers that sleep in a loop (I/O-bound): clean
  socket     4 workers that exchange messages over sockets: clean
"""
import asyncio
import concurrent.futures
import socket
import sys
import time

SECONDS = 2.0


def cpu_bound(seconds):
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:  # CPU-BOUND-HERE
        n += 1
    return n


def sleepy(seconds):
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        time.sleep(0.005)
        n += sum(range(100))
    return n


def chatty(seconds):
    a, b = socket.socketpair()
    end = time.monotonic() + seconds
    n = 0
    with a, b:
        while time.monotonic() < end:
            a.sendall(b"x" * 64)
            n += len(b.recv(64))
            b.sendall(b"y" * 64)
            n += len(a.recv(64))
            time.sleep(0.001)
    return n


def in_threads(fn, workers, tasks):
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(fn, SECONDS) for _ in range(tasks)]
        return [f.result() for f in futures]


async def in_executor(pool):
    loop = asyncio.get_running_loop()
    return await asyncio.gather(*(loop.run_in_executor(pool, cpu_bound, SECONDS)
                                  for _ in range(2)))


def main(mode):
    if mode == "threads":
        in_threads(cpu_bound, 4, 4)
    elif mode == "executor":
        # Shut down off the loop: joining the workers from a coroutine would block it.
        with concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="crunch") as pool:
            asyncio.run(in_executor(pool))
    elif mode == "processes":
        with concurrent.futures.ProcessPoolExecutor(max_workers=4) as pool:
            list(pool.map(cpu_bound, [SECONDS] * 4))
    elif mode == "single":
        in_threads(cpu_bound, 1, 1)
    elif mode == "sleep":
        in_threads(sleepy, 4, 4)
    elif mode == "socket":
        in_threads(chatty, 4, 4)
    else:
        sys.exit(f"unknown mode {mode}")
    print("done")


if __name__ == "__main__":
    main(sys.argv[1])
