"""Clean: what loopsan's checked asyncio methods must leave exactly as it was.

- a checked method called from C with no arguments at all (iter(callable, sentinel));
- introspection, pickling and repr of checked methods;
- a loop stopped normally inside an `except` block while a run_coroutine_threadsafe future is
  pending, then run again: the future completes (no abandoned-future);
- thread-safe hand-offs between a worker thread and the loop.
Exits 0 and prints "ok" when everything behaved as without loopsan.
"""
import asyncio
import inspect
import pickle
import threading


def no_argument_call_from_c():
    event = asyncio.Event()
    next(iter(event.set, 1), None)  # C calls event.set() with no argument array
    assert event.is_set()


def introspection():
    assert asyncio.Event.set.__name__ == "set", asyncio.Event.set.__name__
    assert asyncio.Future.set_result.__qualname__.endswith("set_result")
    assert "self" in str(inspect.signature(asyncio.Event.set))
    event = asyncio.Event()
    assert pickle.loads(pickle.dumps(event.set)).__name__ == "set"


async def work():
    return 42


def loop_restarted_inside_except():
    loop = asyncio.new_event_loop()
    started, stopped, again = threading.Event(), threading.Event(), threading.Event()

    def run():
        try:
            raise LookupError("handled by this frame while the loop runs")
        except LookupError:
            loop.call_soon(started.set)
            loop.run_forever()  # stopped below, normally, inside this except block
            stopped.set()
        again.wait()
        loop.run_forever()

    thread = threading.Thread(target=run, name="loop-thread")
    thread.start()
    started.wait()
    loop.call_soon_threadsafe(loop.stop)
    stopped.wait()
    future = asyncio.run_coroutine_threadsafe(work(), loop)  # pending while the loop is stopped
    again.set()
    assert future.result(timeout=10) == 42
    loop.call_soon_threadsafe(loop.stop)
    thread.join()
    loop.close()


no_argument_call_from_c()
introspection()
loop_restarted_inside_except()
print("ok")
