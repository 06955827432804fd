import asyncio
import concurrent.futures
import time

import pytest


async def nap():
    time.sleep(0.02)


asyncio.run(nap())  # at collection: in no test, fails none


def test_fails_anyway():
    asyncio.run(nap())
    assert 1 == 2


def test_skipped():
    asyncio.run(nap())
    pytest.skip("not today")


def refuse():
    raise PermissionError("refused")


@pytest.fixture
def failed_future():
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(refuse)
    yield future  # the item holds it until its teardown is over; nobody reads it


def test_holds_failed_future(failed_future):
    assert failed_future.done()
