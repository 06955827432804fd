"""A coroutine runs a command with subprocess.run and waits for it on the loop thread.

CPython 3.11: Popen forks with vfork() (_posixsubprocess), reads its error pipe (a read() that
returns at once: the child has exec'd by then), and run() -> communicate() -> wait() -> _wait()
-> _try_wait() -> os.waitpid(pid, 0) -> waitpid() (glibc's waitpid enters the kernel through
its internal __wait4: strace shows wait4, the call the program made is waitpid)."""
import asyncio
import subprocess


async def run_tool():
    return subprocess.run(["sleep", "0.05"], check=True)  # BLOCKING-CALL-HERE


async def main():
    await asyncio.sleep(0)
    assert (await run_tool()).returncode == 0


asyncio.run(main())
print("done")
