# A coroutine reads a blocking socket whose peer never writes: the event loop is frozen for good
# (no blocking-call finding can come: recv never returns). The test kills it once loopsan has
# reported the hung wait.
import asyncio
import socket


async def wait_for_reply(sock):
    print("reading", flush=True)
    return sock.recv(16)  # HANG-CALL


async def main():
    server = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(server.getsockname())
    peer, _ = server.accept()
    await asyncio.sleep(0)
    await wait_for_reply(client)


asyncio.run(main())
