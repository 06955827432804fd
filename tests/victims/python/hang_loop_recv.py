# A coroutine reads a blocking socket whose peer never writes: the event loop is frozen for good
# (no blocking-call finding can come: recv never returns). The test kills it once loopsan has
# reported the hung wait.
import asyncio
import socket


async def wait_for_reply(sock):
    print("reading", flush=True)
    return sock.recv(16)  # HANG-CALL


async def main():
    a, b = socket.socketpair()
    await asyncio.sleep(0)
    await wait_for_reply(a)


asyncio.run(main())
