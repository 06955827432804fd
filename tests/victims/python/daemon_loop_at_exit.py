"""A daemon thread keeps blocking its asyncio loop while the interpreter shuts down:
loopsan takes Python stacks on that thread during finalization and must neither crash nor
hang the exit."""
import asyncio
import threading
import time


async def spin():
    while True:
        time.sleep(0.0005)  # DAEMON-BLOCK
        await asyncio.sleep(0)


threading.Thread(target=lambda: asyncio.run(spin()), daemon=True).start()
time.sleep(0.2)  # long enough for the daemon loop to start on a loaded machine
print("main exits")
