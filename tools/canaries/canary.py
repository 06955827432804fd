"""loopsan's Python canaries, for `loopsan selftest`: `canary.py MODE [DEADLINE_MS]`.

One small, known bug per Python-side detector, each in a function with a distinctive name
(canary_*) that the selftest looks for in the finding's Python stacks: a detector that
reports the wrong place is as broken as one that reports nothing. `clean` does the same
things the right way and must produce no finding at all.

A canary that would otherwise wait for ever ends once loopsan has counted a finding
(loopsan_findings_count(), exported by the shim), or at DEADLINE_MS without one (status 3).
"""
import asyncio
import atexit
import concurrent.futures
import ctypes
import gc
import os
import signal
import sys
import threading
import time

NO_FINDING = 3
DEADLINE = (int(sys.argv[2]) if len(sys.argv) > 2 else 5000) / 1000.0

try:
    # PyDLL: the call keeps the GIL, so polling it does not change how threads share it.
    _count = ctypes.PyDLL(None).loopsan_findings_count
    _count.restype = ctypes.c_ulonglong
    _count.argtypes = []
except (AttributeError, OSError):  # not under loopsan
    _count = None


def reported():
    return _count is not None and _count() > 0


def wait_until_reported():
    end = time.monotonic() + DEADLINE
    while not reported() and time.monotonic() < end:
        time.sleep(0.01)
    return reported()


def snapshot_hooks():
    """A child that exits at once: loopsan writes its report's start line now, with the hooks
    installed since the process started (the runtime bridges': cpython.*), which the start
    line of this process, written at start, could not list yet."""
    if _count is None:
        return
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)


def leave(status):
    # The finding is counted before its line is written: give the writer a moment.
    if status == 0:
        time.sleep(0.1)
    snapshot_hooks()
    sys.stdout.flush()
    os._exit(status)


async def nothing():
    return None


# --- blocking-call: time.sleep in a coroutine ----------------------------------------------

async def canary_blocking_sleep_in_coroutine():
    time.sleep(0.01)


def blocking_call():
    asyncio.run(canary_blocking_sleep_in_coroutine())


# --- the Python stack bridge: the stack of a thread stuck in a wait, read from outside ------

def canary_python_waits_forever():
    concurrent.futures.Future().result()  # nothing will ever complete it


def idle_forever():
    lock = threading.Lock()
    lock.acquire()
    lock.acquire()


def python_stacks():
    # A second thread, for the watchdog to look for hung waits at all, but one that could not
    # end the wait (loopsan's rule for Python waits, which do not say whom they wait for):
    # parked for good on a lock nobody else holds. The selftest kills this canary once the
    # finding is in; alone, it gives up at the deadline, in a signal handler.
    threading.Thread(target=idle_forever, name="canary-idle", daemon=True).start()
    snapshot_hooks()  # now: the selftest's kill leaves no time for it
    signal.signal(signal.SIGALRM, lambda *_: leave(NO_FINDING))
    signal.setitimer(signal.ITIMER_REAL, DEADLINE)
    canary_python_waits_forever()


# --- unretrieved-exception: a task and a pool future that fail, never read -----------------

async def canary_task_raises():
    raise RuntimeError("canary: task exception never retrieved")


async def start_and_forget():
    asyncio.create_task(canary_task_raises())
    await asyncio.sleep(0.02)


def unretrieved_task():
    asyncio.run(start_and_forget())
    gc.collect()


def canary_pool_task_raises():
    raise ValueError("canary: pool exception never retrieved")


def unretrieved_future():
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(canary_pool_task_raises)
    gc.collect()


# --- loop-on-pool-thread: asyncio.run inside a pool's task ---------------------------------

def canary_loop_in_pool_worker():
    return asyncio.run(nothing())


def loop_on_pool_thread():
    with concurrent.futures.ThreadPoolExecutor(max_workers=1,
                                               thread_name_prefix="canary-pool") as pool:
        pool.submit(canary_loop_in_pool_worker).result()


# --- cross-thread-call: loop.call_soon from another thread ---------------------------------

def canary_call_soon_from_thread(loop, queue):
    loop.call_soon(lambda: None)  # the bug
    loop.call_soon_threadsafe(queue.put_nowait, "done")  # wakes the loop the right way


async def call_from_thread(pool):
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()
    worker = threading.Thread(target=canary_call_soon_from_thread, args=(loop, queue))
    await loop.run_in_executor(pool, worker.start)  # Thread.start() waits: off the loop
    await asyncio.wait_for(queue.get(), DEADLINE)
    await loop.run_in_executor(pool, worker.join)


def cross_thread_call():
    with warmed_pool(1, "canary-starter") as pool:
        asyncio.run(call_from_thread(pool))


# --- abandoned-future: a coroutine handed to a loop that is then closed --------------------

async def never(gate):
    await gate


def canary_abandon_future():
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="canary-loop")
    thread.start()
    loop.call_soon_threadsafe(loop.stop)
    thread.join()
    future = asyncio.run_coroutine_threadsafe(never(concurrent.futures.Future()), loop)
    loop.close()
    try:
        future.result(timeout=0.05)
    except concurrent.futures.TimeoutError:
        pass


def abandoned_future():
    canary_abandon_future()


# --- pool-starvation: a coroutine submits more than a pool of one can start ----------------

def canary_slow_task():
    wait_until_reported()


async def canary_starve_pool(pool):
    futures = [asyncio.wrap_future(pool.submit(canary_slow_task)) for _ in range(2)]
    await asyncio.gather(*futures)


def warmed_pool(workers, name):
    """A pool whose workers are already started: a submit from a coroutine that starts one
    waits for the new thread in Thread.start(), on the loop, which a loaded machine can make
    a blocking-call finding of its own (and any finding ends the canaries that wait for one)."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
    barrier = threading.Barrier(workers)
    for f in [pool.submit(barrier.wait, DEADLINE) for _ in range(workers)]:
        f.result()
    return pool


def pool_starvation():
    with warmed_pool(1, "canary-pool") as pool:
        asyncio.run(canary_starve_pool(pool))
    if not reported():
        leave(NO_FINDING)


# --- gil-contention: CPU-bound work in a thread pool ---------------------------------------

def canary_cpu_bound():
    end = time.monotonic() + DEADLINE
    n = 0
    while time.monotonic() < end:
        for _ in range(20000):
            n += 1
        if reported():
            break
    return n


def gil_contention():
    with concurrent.futures.ThreadPoolExecutor(max_workers=2,
                                               thread_name_prefix="canary-crunch") as pool:
        for f in [pool.submit(canary_cpu_bound) for _ in range(2)]:
            f.result()
    if not reported():
        leave(NO_FINDING)


# --- thread-leak: a non-daemon thread still running when the interpreter shuts down ---------

def canary_leaked_thread_body():
    wait_until_reported()  # then it ends, and so does the process


def canary_start_leaking_thread():
    threading.Thread(target=canary_leaked_thread_body, name="canary-leak").start()


def thread_leak():
    canary_start_leaking_thread()


# --- clean: the same things done right --------------------------------------------------------

def clean():
    async def fails():
        raise RuntimeError("retrieved")

    async def main(pool):
        loop = asyncio.get_running_loop()
        try:
            await asyncio.create_task(fails())
        except RuntimeError:
            pass
        await asyncio.sleep(0.01)
        await loop.run_in_executor(pool, time.sleep, 0.01)
        queue = asyncio.Queue()
        worker = threading.Thread(
            target=lambda: loop.call_soon_threadsafe(queue.put_nowait, "item"))
        await loop.run_in_executor(pool, worker.start)
        await asyncio.wait_for(queue.get(), DEADLINE)
        await loop.run_in_executor(pool, worker.join)

    with warmed_pool(2, "canary-clean") as pool:
        asyncio.run(main(pool))
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        try:
            pool.submit(canary_pool_task_raises).result()
        except ValueError:
            pass
        pool.submit(time.sleep, 0.01).result()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="canary-loop")
    thread.start()
    asyncio.run_coroutine_threadsafe(nothing(), loop).result(timeout=DEADLINE)
    loop.call_soon_threadsafe(loop.stop)
    thread.join()
    loop.close()


MODES = {
    "blocking-call": blocking_call,
    "python-stacks": python_stacks,
    "unretrieved-task": unretrieved_task,
    "unretrieved-future": unretrieved_future,
    "loop-on-pool-thread": loop_on_pool_thread,
    "cross-thread-call": cross_thread_call,
    "abandoned-future": abandoned_future,
    "pool-starvation": pool_starvation,
    "gil-contention": gil_contention,
    "thread-leak": thread_leak,
    "clean": clean,
}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in MODES:
        sys.exit("usage: canary.py MODE [DEADLINE_MS] (run by `loopsan selftest`); modes: " +
                 " ".join(MODES))
    atexit.register(snapshot_hooks)
    MODES[sys.argv[1]]()
