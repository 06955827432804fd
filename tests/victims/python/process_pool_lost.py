"""A ProcessPoolExecutor task fails in the worker process and its future is dropped."""
import concurrent.futures as cf
import gc


def crunch(n):
    if n == 2:
        raise ArithmeticError("cannot crunch 2")  # RAISE-PROCESS
    return n


if __name__ == "__main__":
    with cf.ProcessPoolExecutor(max_workers=1) as executor:
        futures = [executor.submit(crunch, n) for n in range(3)]
        print([f.result() for f in futures[:2]])
        cf.wait(futures)
        del futures
    gc.collect()
    print("done")
