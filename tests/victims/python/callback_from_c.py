"""A coroutine sorts with libc's qsort through ctypes, and the comparison callback, Python
called back from C, sleeps: the merged stack must show the callback's line, then qsort, then
the coroutine that called it (the interpreter entered twice, C in between)."""
import asyncio
import ctypes
import time

libc = ctypes.CDLL("libc.so.6")
COMPARE = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_int),
                           ctypes.POINTER(ctypes.c_int))


def by_value(a, b):
    time.sleep(0.05)  # BLOCKING-CALL-HERE
    return a[0] - b[0]


async def sort_numbers():
    values = (ctypes.c_int * 2)(2, 1)
    libc.qsort(values, 2, ctypes.sizeof(ctypes.c_int), COMPARE(by_value))  # QSORT-CALL-HERE
    return list(values)


async def main():
    assert await sort_numbers() == [1, 2]


asyncio.run(main())
print("done")
