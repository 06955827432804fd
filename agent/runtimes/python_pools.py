# loopsan's hooks of concurrent.futures.thread, run inside the host interpreter by
# agent/runtimes/python_pools.cc when python_hooks.py sees that module imported; the rules of
# python_hooks.py hold here too: never change what the program does or prints, no loopsan frame
# in its tracebacks, swallow our own errors.
#
# python_pools.cc defines, ahead of this source: _loopsan_thread (the module), _loopsan_clean
# and _loopsan_frames_text (python_hooks.py's helpers), and its builtins _loopsan_pool_*.
import sys


def _loopsan_patch_thread_pool(thread, clean, frames_text, new, gone, queued, waiting, dropped,
                                idle, started):
    # ThreadPoolExecutor -> the pools' registry (pool-starvation, gil-contention, the
    # `pool` role). Each executor's work queue is a SimpleQueue subclass of ours (the module
    # builds it as `queue.SimpleQueue()`: its `queue` global becomes a view of the queue
    # module with that one name replaced), so no method of the executor is wrapped and no
    # loopsan frame enters a traceback of the program. Per task: put() says a task is
    # queued, get() that a worker is idle, then busy. Only a task that will wait (the pool
    # is saturated) costs more: how it was submitted, and while fewer than 8 of the pool's
    # waiting tasks have them, the submitting stacks (which hold the submitting coroutine's
    # frames).
    if getattr(thread, "_loopsan_patched", False):
        return
    import queue as queue_module
    import types
    import weakref

    Executor = getattr(thread, "ThreadPoolExecutor", None)
    base_queue = getattr(queue_module, "SimpleQueue", None)
    if Executor is None or base_queue is None:
        return
    submit_code = Executor.submit.__code__
    base = sys.modules.get("concurrent.futures._base")
    map_code = getattr(getattr(base, "Executor", None), "map", None)
    map_code = getattr(map_code, "__code__", None)
    put_, get_, get_nowait_ = base_queue.put, base_queue.get, base_queue.get_nowait
    getframe = sys._getframe

    def task_of(fn):
        # The function a task runs: through functools.partial and Context.run (to_thread).
        for _ in range(8):
            inner = getattr(fn, "func", None)
            if inner is None or not callable(inner):
                break
            args = getattr(fn, "args", ())
            if getattr(inner, "__qualname__", "") == "Context.run" and args:
                inner = args[0]
            fn = inner
        name = getattr(fn, "__qualname__", None) or type(fn).__qualname__
        module = getattr(fn, "__module__", None)
        if module and module not in ("builtins", "__main__"):
            name = f"{module}.{name}"
        return clean(str(name))

    def submitted_via(frame):
        # The API the program called: the first such frame above submit().
        for _ in range(12):
            if frame is None:
                break
            code = frame.f_code
            if code is map_code:
                return "map"
            name = code.co_name
            if name == "run_in_executor" and code.co_filename.endswith("base_events.py"):
                # to_thread() calls run_in_executor(): its own frame is next.
                outer = frame.f_back
                if (outer is not None and outer.f_code.co_name == "to_thread" and
                        outer.f_code.co_filename.endswith("threads.py")):
                    return "to_thread"
                return "run_in_executor"
            frame = frame.f_back
        return "submit"

    def register(q, frame):
        # At the executor's first task: submit()'s frame knows the executor.
        q._loopsan_known = True
        if frame.f_code is not submit_code:
            return
        executor = frame.f_locals.get("self")
        if executor is None:
            return
        name = executor._thread_name_prefix or f"ThreadPoolExecutor-{id(executor):x}"
        new(q, clean(str(name)), int(executor._max_workers))
        q._loopsan_pool = True
        # A weak reference with a callback, not weakref.finalize: finalize registers an atexit
        # handler at its first use, which would reorder the program's own exit handlers.
        q._loopsan_executor = weakref.ref(executor, lambda _, q=q: gone(q))

    def note_waiting(q, item, frame, details, same_site):
        via = submitted_via(frame)
        frames = ""
        if via != "map" and details:
            # Innermost first, from the submit() call on: the caller's lines.
            site = []
            while frame is not None and len(site) < 64:
                site.append((frame.f_code.co_name, frame.f_code.co_filename,
                             frame.f_lineno))
                frame = frame.f_back
            frames = frames_text(site)
        waiting(q, via, task_of(item.fn), frames, same_site)

    class SimpleQueue(base_queue):
        __slots__ = ("_loopsan_known", "_loopsan_pool", "_loopsan_site", "_loopsan_executor")

        def __init__(self, *args, **kwargs):
            self._loopsan_known = False
            self._loopsan_pool = False
            self._loopsan_site = 0

        def put(self, item, block=True, timeout=None):
            if item is not None:
                try:
                    if not self._loopsan_known:
                        register(self, getframe(1))
                    if self._loopsan_pool:
                        # The frame that called submit(): the same one as the task before
                        # (a loop or comprehension of submit() calls) makes a batch, which
                        # queues by design unless an event loop waits on it (pools.h).
                        site = id(getframe(2))
                        same_site = site == self._loopsan_site
                        self._loopsan_site = site
                        # None: a worker takes it now; else it will wait, and the stacks
                        # are wanted when queued() answers with the queue itself.
                        waits = queued(self, item)
                        if waits is not None:
                            note_waiting(self, item, getframe(1), waits is self, same_site)
                except Exception:
                    pass
            put_(self, item, block, timeout)

        def get(self, block=True, timeout=None):
            if self._loopsan_pool:
                idle(self)
            item = get_(self, block, timeout)
            if item is not None and self._loopsan_pool:
                try:
                    fn = item.fn
                    started(self, getattr(fn, "__qualname__", None) or task_of(fn))
                except Exception:
                    pass
            return item

        def get_nowait(self):
            item = get_nowait_(self)
            if item is not None and self._loopsan_pool:
                dropped(self)
            return item

    SimpleQueue.__module__ = base_queue.__module__
    SimpleQueue.__qualname__ = base_queue.__qualname__
    SimpleQueue.__doc__ = base_queue.__doc__

    class _QueueModule(types.ModuleType):
        """The queue module, as concurrent.futures.thread sees it."""

        def __getattr__(self, name):
            return getattr(queue_module, name)

    view = _QueueModule(queue_module.__name__, queue_module.__doc__)
    view.SimpleQueue = SimpleQueue
    if getattr(thread, "queue", None) is queue_module:
        thread.queue = view
        thread._loopsan_patched = True


_loopsan_patch_thread_pool(_loopsan_thread, _loopsan_clean, _loopsan_frames_text,
                           _loopsan_pool_new, _loopsan_pool_gone, _loopsan_pool_queued,
                           _loopsan_pool_waiting, _loopsan_pool_dropped, _loopsan_pool_idle,
                           _loopsan_pool_started)
