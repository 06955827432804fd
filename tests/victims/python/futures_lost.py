"""ThreadPoolExecutor swallows exceptions (seed 000, bug 2): a failed task's future is
dropped, or waited on but never read; map() results are never iterated."""
import concurrent.futures as cf
import gc
import sys


def buggy_task():
    raise ValueError("This exception is LOST!")  # RAISE-SUBMIT


def risky_task(n):
    if n == 3:
        raise KeyError(f"task {n} failed")  # RAISE-MAP
    return n * 2


def waited_task():
    raise RuntimeError("waited, never read")  # RAISE-WAITED


mode = sys.argv[1] if len(sys.argv) > 1 else "submit"
with cf.ThreadPoolExecutor(max_workers=2) as executor:
    if mode == "submit":
        executor.submit(buggy_task)  # DROP-SUBMIT
    elif mode == "map":
        results = executor.map(risky_task, range(5))  # never iterated
    elif mode == "wait":
        futures = [executor.submit(waited_task)]
        cf.wait(futures)
        print("states:", [f.done() for f in futures])
        del futures
gc.collect()
print("done")
