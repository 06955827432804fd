"""An asyncio loop that never stalls: idle in its wait for 600 ms, then many short callbacks,
while another thread sleeps and computes off the loop. No finding."""
import asyncio
import threading
import time


def off_loop():
    time.sleep(0.3)
    end = time.monotonic() + 0.3
    while time.monotonic() < end:
        pass


async def main():
    await asyncio.sleep(0.6)
    for _ in range(200):
        await asyncio.sleep(0.001)


t = threading.Thread(target=off_loop)
t.start()
asyncio.run(main())
t.join()
print("done")
