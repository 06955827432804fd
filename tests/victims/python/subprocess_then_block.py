"""An asyncio program starts a subprocess (CPython uses vfork: the child closes every
descriptor, the loop's epoll set included, in the parent's address space before it execs),
waits for it on the loop (a blocking call too), then blocks its loop. The child's closes must
not end the parent's loop."""
import asyncio
import subprocess
import time


async def main():
    proc = await asyncio.create_subprocess_exec("true")
    await proc.wait()
    subprocess.run(["sleep", "0.05"], close_fds=True, check=True)  # BLOCK-IN-WAIT
    time.sleep(0.02)  # BLOCK-AFTER-SPAWN


asyncio.run(main())
print("done")
