"""An asyncio task fails and nobody awaits it: Python only logs "Task exception was never
retrieved"; loopsan makes it a finding."""
import asyncio
import gc


async def fetch_profile():
    await asyncio.sleep(0)
    raise ConnectionError("profile service down")  # RAISE-TASK


async def main():
    asyncio.create_task(fetch_profile())  # fire and forget
    await asyncio.sleep(0.05)


asyncio.run(main())
gc.collect()
print("done")
