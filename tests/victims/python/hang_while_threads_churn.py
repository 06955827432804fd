# Waits for results that come late (each wait longer than the test's hang threshold) while
# other threads start and exit all the time and an idle worker sits in queue.get(): loopsan
# reads every thread's Python stack for each such wait while thread states come and go
# (reading them without the GIL crashed CPython's own test suites). None is a hang: a timer
# thread will end each wait, and the idle worker waits for work.
import concurrent.futures
import queue
import threading
import time

stop = threading.Event()


def churn():
    while not stop.is_set():
        threads = [threading.Thread(target=sum, args=(range(100),)) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


def idle_worker(jobs):
    while jobs.get() is not None:
        pass


def late_result(i):
    future = concurrent.futures.Future()
    threading.Timer(0.4, future.set_result, (i,)).start()
    return future.result()  # HANG-CALL


def main():
    jobs = queue.Queue()
    worker = threading.Thread(target=idle_worker, args=(jobs,))
    worker.start()
    churners = [threading.Thread(target=churn) for _ in range(2)]
    for t in churners:
        t.start()
    for i in range(8):
        late_result(i)
    stop.set()
    for t in churners:
        t.join()
    jobs.put(None)
    worker.join()
    print("done", flush=True)


main()
