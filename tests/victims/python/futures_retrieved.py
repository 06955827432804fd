"""Every failed future is read, by each of the ways the seeds list (patterns 4, 6, 7, 9): no
finding, and the program's output (tracebacks included) is the same with and without loopsan."""
import asyncio
import concurrent.futures as cf
import gc
import traceback


def risky_task(n):
    if n % 2:
        raise ValueError(f"task {n} failed")
    return n * 2


with cf.ThreadPoolExecutor(max_workers=3) as executor:
    # result()
    for f in [executor.submit(risky_task, i) for i in range(4)]:
        try:
            f.result(timeout=5)
        except ValueError as e:
            print("result():", e)
    # exception()
    for f in [executor.submit(risky_task, i) for i in range(4)]:
        print("exception():", f.exception())
    # as_completed
    done = sorted(str(f.exception()) for f in cf.as_completed(
        [executor.submit(risky_task, i) for i in range(4)]))
    print("as_completed:", done)
    # a done-callback that reads it
    seen = []
    fs = [executor.submit(risky_task, i) for i in range(4)]
    for f in fs:
        f.add_done_callback(lambda f: seen.append(repr(f.exception())))
    cf.wait(fs)
    print("callbacks:", sorted(seen))
    # wait() then result()
    fs = [executor.submit(risky_task, i) for i in range(4)]
    cf.wait(fs)
    print("wait+result:", sum(1 for f in fs if f.exception() is not None))
    # values dropped unread are fine
    for i in range(0, 8, 2):
        executor.submit(risky_task, i)
    # a traceback printed from result(): must be identical with and without loopsan
    try:
        executor.submit(risky_task, 1).result()
    except ValueError:
        traceback.print_exc()
    # map() iterated to the failure
    try:
        list(executor.map(risky_task, [0, 2, 3]))
    except ValueError as e:
        print("map:", e)


async def main():
    loop = asyncio.get_running_loop()
    try:
        await loop.run_in_executor(None, risky_task, 1)
    except ValueError as e:
        print("run_in_executor:", e)
    task = asyncio.create_task(asyncio.sleep(0, result=1))
    print("task:", await task)

    async def fails():
        raise OSError("task failed")

    t = asyncio.create_task(fails())
    try:
        await t
    except OSError as e:
        print("awaited task:", e)


asyncio.run(main())
gc.collect()
print("done")
