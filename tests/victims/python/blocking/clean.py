"""Clean asyncio programs: loopsan must report nothing. Usage: clean.py MODE

  off-loop       every blocking call of the buggy victims, run by asyncio.to_thread and
                 loop.run_in_executor while the loop keeps ticking
  streams        asyncio streams (start_server/open_connection) and loop.sock_* on non-blocking
                 sockets (made non-blocking by setblocking(False), i.e. ioctl FIONBIO, and by
                 SOCK_NONBLOCK)
  subprocess     asyncio.create_subprocess_exec, awaited with proc.wait()/communicate()
  resolve        loop.getaddrinfo / loop.getnameinfo (the default executor resolves)
  threading      uncontended threading.Lock/RLock/Condition/Semaphore, a set Event, a non-empty
                 queue.Queue and a finished concurrent.futures.Future, used inside coroutines:
                 waits that return at once
  asyncio-sync   asyncio.Lock/Event/Condition/Semaphore/Queue between tasks
  gil            two asyncio.to_thread workers burn CPU for ~1 s while the loop runs timers: the
                 loop thread keeps waiting for the GIL, which is no blocking call
  after-run      every blocking call of the buggy victims, after asyncio.run() has returned
"""
import asyncio
import concurrent.futures
import os
import queue
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

# --- The blocking calls of tests/victims/python/blocking/*.py, as plain functions ------------


def serve_once(listener, delay, payload):
    conn, _ = listener.accept()
    with conn:
        time.sleep(delay)
        conn.sendall(payload)
        conn.recv(1)  # until the client closes


def socket_recv(timeout=None):
    # recv() on a blocking socket, or (timeout) poll() on its one descriptor, then recv().
    with socket.create_server(("127.0.0.1", 0)) as listener:
        server = threading.Thread(target=serve_once, args=(listener, 0.1, b"pong"))
        server.start()
        with socket.create_connection(listener.getsockname(), timeout=timeout) as sock:
            assert sock.recv(16) == b"pong"
        server.join()


def socket_recv_with_timeout():
    socket_recv(timeout=1)


def resolve():
    assert socket.getaddrinfo("localhost", 80)


def dial():
    with socket.create_server(("127.0.0.1", 0)) as listener:
        socket.create_connection(listener.getsockname()).close()


def run_tool():
    subprocess.run(["true"], check=True)


def contended_lock():
    lock = threading.Lock()
    held = threading.Event()

    def holder():
        with lock:
            held.set()
            time.sleep(0.3)

    t = threading.Thread(target=holder)
    t.start()
    held.wait()
    with lock:
        pass
    t.join()


def event_wait():
    assert threading.Event().wait(0.3) is False


def queue_get():
    try:
        queue.Queue().get(timeout=0.3)
    except queue.Empty:
        pass


def future_result():
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        assert pool.submit(time.sleep, 0.3).result() is None


def fifo_read():
    directory = tempfile.mkdtemp()
    try:
        fifo = os.path.join(directory, "fifo")
        os.mkfifo(fifo)

        def writer():
            with open(fifo, "w") as f:
                time.sleep(0.3)
                f.write("hello\n")

        t = threading.Thread(target=writer)
        t.start()
        with open(fifo) as f:
            assert f.read() == "hello\n"
        t.join()
    finally:
        shutil.rmtree(directory)


def fsync_file():
    directory = tempfile.mkdtemp()
    try:
        with open(os.path.join(directory, "state"), "w") as f:
            f.write("state\n")
            f.flush()
            os.fsync(f.fileno())
    finally:
        shutil.rmtree(directory)


def sleep():
    time.sleep(0.05)


BLOCKING = [socket_recv, socket_recv_with_timeout, resolve, dial, run_tool, contended_lock,
            event_wait, queue_get, future_result, fifo_read, fsync_file, sleep]


async def ticking(awaitable, period=0.005):
    """Awaits `awaitable` while a timer task ticks; returns how many times it ticked."""
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(period)

    t = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    await awaitable
    t.cancel()
    return ticks


# --- Modes ------------------------------------------------------------------------------------

pool = concurrent.futures.ThreadPoolExecutor(max_workers=len(BLOCKING))


async def off_loop():
    loop = asyncio.get_running_loop()
    half = len(BLOCKING) // 2
    work = asyncio.gather(*(asyncio.to_thread(f) for f in BLOCKING[:half]),
                          *(loop.run_in_executor(pool, f) for f in BLOCKING[half:]))
    ticks = await ticking(work)
    assert ticks >= 5, ticks  # the loop kept running: ~300 ms of 5 ms timers


async def streams():
    async def handle(reader, writer):
        line = await reader.readline()
        writer.write(line.upper())
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        for _ in range(20):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"hello\n")
            await writer.drain()
            assert await reader.readline() == b"HELLO\n"
            writer.close()
            await writer.wait_closed()

    # loop.sock_*: a listener made non-blocking by setblocking(False), a client created with
    # SOCK_NONBLOCK; the reply comes 50 ms later, so sock_recv really waits in the loop.
    loop = asyncio.get_running_loop()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.setblocking(False)
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
    connecting = asyncio.ensure_future(loop.sock_connect(client, listener.getsockname()))
    conn, _ = await loop.sock_accept(listener)
    await connecting

    async def reply_later():
        await asyncio.sleep(0.05)
        await loop.sock_sendall(conn, b"pong")

    replying = asyncio.ensure_future(reply_later())
    await loop.sock_sendall(client, b"ping")
    assert await loop.sock_recv(conn, 4) == b"ping"
    assert await loop.sock_recv(client, 4) == b"pong"
    await replying
    for s in (conn, client, listener):
        s.close()


async def subprocesses():
    proc = await asyncio.create_subprocess_exec("true")
    assert await proc.wait() == 0
    proc = await asyncio.create_subprocess_exec(
        "sh", "-c", "sleep 0.1; echo hi", stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    assert out == b"hi\n" and proc.returncode == 0


async def resolve_in_loop():
    loop = asyncio.get_running_loop()
    assert await loop.getaddrinfo("localhost", 80)
    assert await loop.getnameinfo(("127.0.0.1", 80))


async def uncontended_threading():
    lock, rlock = threading.Lock(), threading.RLock()
    cond, sem = threading.Condition(), threading.Semaphore(2)
    event, jobs = threading.Event(), queue.Queue()
    event.set()
    done = pool.submit(int, "7")
    await asyncio.wrap_future(done)
    total = 0
    for i in range(2000):
        with lock:
            total += 1
        with rlock, rlock:
            total += 1
        with cond:
            cond.notify_all()
        with sem:
            total += 1
        assert event.wait(1)
        jobs.put(i)
        assert jobs.get(timeout=1) == i
        assert done.result() == 7
        if i % 100 == 0:
            await asyncio.sleep(0)
    assert total == 6000


async def asyncio_sync():
    lock, event = asyncio.Lock(), asyncio.Event()
    cond, sem = asyncio.Condition(), asyncio.Semaphore(1)
    jobs = asyncio.Queue(maxsize=2)
    results = []

    async def producer():
        for i in range(10):
            await jobs.put(i)
            await asyncio.sleep(0.005)
        await jobs.put(None)

    async def consumer():
        while (item := await jobs.get()) is not None:
            async with lock, sem:
                results.append(item)
                await asyncio.sleep(0.001)
        async with cond:
            cond.notify_all()

    async def waiter():
        async with cond:
            await cond.wait()
        await event.wait()

    async def setter():
        await asyncio.sleep(0.05)
        event.set()

    await asyncio.gather(producer(), consumer(), waiter(), setter())
    assert results == list(range(10))


def crunch(seconds):
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        n += sum(range(1000))
    return n


async def gil():
    # Two plain threads, not a pool's workers: two CPU-bound workers of an executor are a
    # gil-contention finding (tests/integration/gil_test.cc), not what this mode checks.
    threads = [threading.Thread(target=crunch, args=(1.0,)) for _ in range(2)]
    for t in threads:
        t.start()

    async def both_done():
        while any(t.is_alive() for t in threads):
            await asyncio.sleep(0.01)

    ticks = await ticking(both_done())
    assert ticks >= 5, ticks


MODES = {
    "off-loop": off_loop,
    "streams": streams,
    "subprocess": subprocesses,
    "resolve": resolve_in_loop,
    "threading": uncontended_threading,
    "asyncio-sync": asyncio_sync,
    "gil": gil,
}

mode = sys.argv[1]
if mode == "after-run":
    asyncio.run(asyncio.sleep(0.01))
    for f in BLOCKING:  # the loop is closed: the main thread is no loop thread any more
        f()
else:
    asyncio.run(MODES[mode]())
pool.shutdown()
print("done")
