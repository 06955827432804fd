"""A coroutine opens a connection with socket.create_connection: a blocking connect() on the
loop thread (the listener exists before the loop starts).

CPython 3.11: create_connection (Lib/socket.py) first calls getaddrinfo() for "127.0.0.1", a
literal address (never reported: it cannot block), then sock.connect() -> connect() on a blocking
socket, once (internal_connect). The innermost Python frame is socket.py's create_connection."""
import asyncio
import socket

listener = socket.create_server(("127.0.0.1", 0))
port = listener.getsockname()[1]


async def dial(port):
    sock = socket.create_connection(("127.0.0.1", port))  # BLOCKING-CALL-HERE
    sock.close()


async def main():
    await asyncio.sleep(0)
    await dial(port)


asyncio.run(main())
listener.close()
print("done")
