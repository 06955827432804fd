"""Four tests in order: clean, one that blocks its event loop, one that loses a pool task's
exception, clean again. Under loopsan exactly the two in the middle fail."""
import asyncio
import concurrent.futures
import time


def test_clean_before():
    async def ping():
        await asyncio.sleep(0.001)
        return "pong"

    assert asyncio.run(ping()) == "pong"


async def refresh_cache():
    time.sleep(0.05)  # blocks every other task of the loop
    return True


def test_blocking_call():
    assert asyncio.run(refresh_cache())


def upload_report():
    raise ConnectionError("upload failed")


def test_lost_future():
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(upload_report)  # the future, and its exception, are dropped


def test_clean_after():
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        assert pool.submit(sum, [1, 2]).result() == 3

    async def handler():
        return await asyncio.get_running_loop().run_in_executor(None, time.sleep, 0.01)

    asyncio.run(handler())
