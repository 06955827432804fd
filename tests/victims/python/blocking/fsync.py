"""A coroutine saves its state and flushes it to the disk on the loop thread.

CPython 3.11: os.fsync(fd) -> fsync()."""
import asyncio
import os
import shutil
import tempfile

directory = tempfile.mkdtemp()


async def save_state(path):
    with open(path, "w") as f:
        f.write("state\n")
        f.flush()
        os.fsync(f.fileno())  # BLOCKING-CALL-HERE


async def main():
    await asyncio.sleep(0)
    await save_state(os.path.join(directory, "state"))


asyncio.run(main())
shutil.rmtree(directory)
print("done")
