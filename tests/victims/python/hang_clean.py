# Long waits for a result that are no hang, each 1.5 s against the test's 300 ms threshold:
# main joins a thread that sleeps, then a thread running an asyncio loop (a server's shape),
# then waits on a future whose worker computes. Each wait's producer may still end it.
import asyncio
import concurrent.futures
import threading
import time


def serve_for_a_while():
    async def serve():
        await asyncio.sleep(1.5)

    asyncio.run(serve())


def compute_for_a_while():
    end = time.monotonic() + 1.5
    n = 0
    while time.monotonic() < end:
        n += 1
    return n


sleeper = threading.Thread(target=time.sleep, args=(1.5,), name="sleeper")
sleeper.start()
sleeper.join()
server = threading.Thread(target=serve_for_a_while, name="server-loop")
server.start()
server.join()
with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
    pool.submit(compute_for_a_while).result()
print("done", flush=True)
