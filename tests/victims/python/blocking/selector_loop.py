"""An asyncio loop built on selectors.PollSelector or SelectSelector (usage: selector_loop.py
poll|select): the loop's own wait is then poll() or select(), with a timeout, over its
self-pipe and the sockets it watches, and it is no blocking call. A coroutine reading a socket
that has a timeout makes a nested poll() on one descriptor (as in socket_timeout_recv.py): that
one is. Code after the loop is closed is not on a loop."""
import asyncio
import selectors
import socket
import sys
import threading
import time

listener = socket.create_server(("127.0.0.1", 0))
client = socket.create_connection(listener.getsockname())
client.settimeout(1)
reading = threading.Event()


def serve():
    conn, _ = listener.accept()
    with conn:
        reading.wait()
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
    for _ in range(5):
        await asyncio.sleep(0.01)  # the loop waits in its own poll()/select()
    assert await read_with_timeout(client) == b"pong"
    await asyncio.sleep(0.01)


selector = {"poll": selectors.PollSelector, "select": selectors.SelectSelector}[sys.argv[1]]()
loop = asyncio.SelectorEventLoop(selector)
loop.run_until_complete(main())
loop.close()
client.close()
server.join()
listener.close()
time.sleep(0.01)  # after the loop: not a finding
print("done")
