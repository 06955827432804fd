"""Threads still running when the interpreter shuts down. Usage: thread_leak.py MODE
  leaked  a non-daemon thread that never ends: CPython waits for it for ever at exit
  clean   a daemon thread that never ends, a non-daemon thread that ends 200 ms after main, and
          a ThreadPoolExecutor never shut down (its idle workers stop at exit, in
          concurrent.futures' own threading._register_atexit callback, which runs before loopsan's)
  joins-main  a non-daemon thread that joins the main thread: it ends as soon as the interpreter
          marks main stopped, after the threading._register_atexit callbacks (CPython's
          test_threading test_1_join_on_shutdown)
"""
import concurrent.futures
import sys
import threading
import time

stop_serving = threading.Event()


def serve_forever():
    while not stop_serving.is_set():
        time.sleep(0.05)  # SERVE-WAIT


def start_server():
    worker = threading.Thread(target=serve_forever, name="server-worker")
    worker.start()  # LEAK-START
    return worker


def finish_soon():
    time.sleep(0.3)  # ends 200 ms after main


mode = sys.argv[1] if len(sys.argv) > 1 else ""
if mode == "leaked":
    start_server()
elif mode == "clean":
    threading.Thread(target=serve_forever, name="daemon-server", daemon=True).start()
    threading.Thread(target=finish_soon, name="finisher").start()
    executor = concurrent.futures.ThreadPoolExecutor(max_workers=2)
    executor.submit(time.sleep, 0.01).result()
elif mode == "joins-main":
    threading.Thread(target=threading.main_thread().join, name="joiner").start()
else:
    sys.exit(f"unknown mode {mode!r}")
time.sleep(0.1)
print("main exits", flush=True)
