"""A coroutine reads from a socket that has a timeout: the loop still waits for the peer.

CPython 3.11 (strace -k and gdb, both Pythons): settimeout(1) makes the descriptor non-blocking
with ioctl(FIONBIO); sock.recv() then waits in poll() on that one descriptor with a 1000 ms
timeout (internal_select, from sock_call_ex) before it calls recv(), which cannot block any more.
The nested poll() is the blocking call; the recv() on a non-blocking socket is not one."""
import asyncio
import socket
import threading
import time

listener = socket.create_server(("127.0.0.1", 0))
client = socket.create_connection(listener.getsockname())
client.settimeout(1)
reading = threading.Event()


def serve():
    conn, _ = listener.accept()
    with conn:
        reading.wait()  # the coroutine is about to read: answer 100 ms later
        time.sleep(0.1)
        conn.sendall(b"pong")
        conn.recv(1)


server = threading.Thread(target=serve)
server.start()


async def read_with_timeout(sock):
    reading.set()
    data = sock.recv(16)  # BLOCKING-CALL-HERE
    return data


async def main():
    await asyncio.sleep(0)
    assert await read_with_timeout(client) == b"pong"


asyncio.run(main())
client.close()
server.join()
listener.close()
print("done")
