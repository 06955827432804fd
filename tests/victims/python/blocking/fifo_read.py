"""A coroutine reads a FIFO whose writer writes 300 ms after both ends are open.

CPython 3.11: open(fifo).read() -> TextIOWrapper.read -> BufferedReader.read ->
FileIO.readall -> _Py_read -> read(): the first read() waits 300 ms on the blocking descriptor,
the next one returns 0 (end of file) at once."""
import asyncio
import os
import tempfile
import threading
import time

directory = tempfile.mkdtemp()
fifo = os.path.join(directory, "fifo")
os.mkfifo(fifo)


def writer():
    with open(fifo, "w") as f:  # returns when the coroutine opens the other end
        time.sleep(0.3)
        f.write("hello\n")


t = threading.Thread(target=writer)
t.start()


async def read_message():
    with open(fifo) as f:
        return f.read()  # BLOCKING-CALL-HERE


async def main():
    await asyncio.sleep(0)
    assert await read_message() == "hello\n"


asyncio.run(main())
t.join()
os.unlink(fifo)
os.rmdir(directory)
print("done")
