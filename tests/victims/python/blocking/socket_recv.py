"""A coroutine reads a reply from a blocking socket: every other task of the loop waits until the
peer, a server thread, answers 100 ms later.

CPython 3.11 (strace -k and gdb, pyenv 3.11.7 and Debian 3.11.2): sock.recv() on a socket
without a timeout calls recv() once (sock_recv_impl), with no poll() before it."""
import asyncio
import socket
import threading
import time

listener = socket.create_server(("127.0.0.1", 0))
client = socket.create_connection(listener.getsockname())  # before the loop: not on a loop
reading = threading.Event()


def serve():
    conn, _ = listener.accept()
    with conn:
        reading.wait()  # the coroutine is about to read: answer 100 ms later
        time.sleep(0.1)
        conn.sendall(b"pong")
        conn.recv(1)  # until the client closes


server = threading.Thread(target=serve)
server.start()


async def read_reply(sock):
    reading.set()
    data = sock.recv(16)  # BLOCKING-CALL-HERE
    return data


async def main():
    await asyncio.sleep(0)
    assert await read_reply(client) == b"pong"


asyncio.run(main())
client.close()
server.join()
listener.close()
print("done")
