"""A coroutine resolves a host name on the loop thread: the C library may read files and ask a
DNS server while every other task waits.

CPython 3.11: socket.getaddrinfo (Lib/socket.py) -> _socket.getaddrinfo -> getaddrinfo(). The
innermost Python frame is socket.py's getaddrinfo, the coroutine is the next one."""
import asyncio
import socket


async def resolve(host):
    return socket.getaddrinfo(host, 80)  # BLOCKING-CALL-HERE


async def main():
    await asyncio.sleep(0)
    assert await resolve("localhost")


asyncio.run(main())
print("done")
