"""The Python workload of tools/bench: a TCP echo server and clients on loopback in one
asyncio loop, then run_in_executor round trips. Prints one JSON line of phase times."""
import asyncio
import json
import sys
import time


async def echo(reader, writer):
    while data := await reader.read(4096):
        writer.write(data)
        await writer.drain()
    writer.close()


async def client(port, messages):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    payload = b"x" * 128
    for _ in range(messages):
        writer.write(payload)
        await writer.drain()
        await reader.readexactly(len(payload))
    writer.close()
    await writer.wait_closed()


async def tcp_echo(clients, messages):
    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    start = time.perf_counter()
    await asyncio.gather(*(client(port, messages) for _ in range(clients)))
    elapsed = time.perf_counter() - start
    server.close()
    await server.wait_closed()
    return elapsed


async def executor_round_trips(n):
    loop = asyncio.get_running_loop()
    start = time.perf_counter()
    for i in range(n):
        await loop.run_in_executor(None, abs, -i)
    return time.perf_counter() - start


async def main(scale):
    echo_s = await tcp_echo(20, int(1000 * scale))
    executor_s = await executor_round_trips(int(20000 * scale))
    print(json.dumps({"tcp_echo": echo_s, "run_in_executor": executor_s,
                      "total": echo_s + executor_s}))


asyncio.run(main(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0))
