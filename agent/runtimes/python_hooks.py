# loopsan's Python-level hooks, run inside the host interpreter by agent/python_hooks.cc just
# before the program's own code starts (the "cpython.run_*" audit events). `_loopsan_report`
# is a builtin function provided by the shim.
#
# It must not change what the program does or prints: it only wraps methods, keeps no
# reference to futures or exceptions, and swallows its own errors.
#
# - concurrent.futures.Future: a future that got an exception through set_exception() and was
#   collected (or was still alive at exit) without result()/exception() having handed that
#   exception to anyone -> unretrieved-exception.
# - asyncio: the loop's "Task/Future exception was never retrieved" -> unretrieved-exception.
# - asyncio: when a loop starts and stops running on a thread (for blocking-call).
# - threading: non-daemon threads still running when the interpreter shuts down, with where
#   each was started -> thread-leak.
# - concurrent.futures.thread: each ThreadPoolExecutor's tasks queued, taken and done, told to
#   the pools' registry (python_pools.cc) -> pool-starvation, and the `pool` role.
#
# `_loopsan_hang_threshold_ms` is defined by python_hooks.cc ahead of this source.


def _loopsan_install(report, loop_running, thread_leak, hang_threshold_ms):
    import sys

    # python_pools.cc's installer of python_pools.py (absent: no pool hooks).
    pool_install = globals().get("_loopsan_pool_install")

    FIELD, RECORD, THREAD, PART = "\x1f", "\x1e", "\x1d", "\x1c"

    def clean(text):
        # The shim takes C strings: no NUL, and no separators inside a field.
        text = text.replace("\0", "\\0")
        for separator in (FIELD, RECORD, THREAD, PART):
            text = text.replace(separator, " ")
        return text

    def frames_text(frames):
        # (function, file, line) innermost first, in the shape the shim parses.
        return RECORD.join(FIELD.join((clean(f), clean(p), str(n))) for f, p, n in frames)

    def caller_frames(depth):
        # The Python stack above the caller of the caller, innermost first.
        frames = []
        try:
            frame = sys._getframe(depth)
        except ValueError:
            return frames
        while frame is not None and len(frames) < 64:
            frames.append((frame.f_code.co_name, frame.f_code.co_filename, frame.f_lineno))
            frame = frame.f_back
        return frames

    def raise_frames(exc):
        frames = []
        tb = getattr(exc, "__traceback__", None)
        while tb is not None:
            code = tb.tb_frame.f_code
            frames.append((code.co_name, code.co_filename, tb.tb_lineno))
            tb = tb.tb_next
        frames.reverse()  # innermost (the raise) first
        if not frames:
            # ProcessPoolExecutor: the traceback comes back as text in __cause__.
            text = str(getattr(exc, "__cause__", "") or "")
            for line in text.splitlines():
                line = line.strip()
                if line.startswith('File "') and '", line ' in line:
                    path, rest = line[6:].split('", line ', 1)
                    number, _, name = rest.partition(", in ")
                    if number.isdigit():
                        frames.append((name.strip(), path, int(number)))
            frames.reverse()
        return frames

    def message_of(exc):
        try:
            return clean(str(exc)[:1000])
        except BaseException:
            return "<str() failed>"

    def type_of(exc):
        t = type(exc)
        name = t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"
        return clean(name)

    def patch_concurrent_futures(base):
        # Future keeps its exception in self._exception: set by set_exception(), read by
        # result() (through __get_result) and exception(). A data descriptor of that name sees
        # both without wrapping any method, so no loopsan frame ever shows up in a traceback;
        # the value still lives in the instance's __dict__ under the same name.
        Future = base.Future
        if "_exception" in Future.__dict__:
            return
        import weakref

        FINISHED = base.FINISHED
        readers = {Future.result.__code__, Future.exception.__code__}
        get_result = getattr(Future, "_Future__get_result", None)
        if get_result is not None:
            readers.add(get_result.__code__)
        states = weakref.WeakKeyDictionary()
        getframe = sys._getframe
        exiting = []  # non-empty once the interpreter runs its exit handlers
        exiting_registered = []

        class _State:
            __slots__ = ("retrieved",)

        def unretrieved(state, exc_type, what, throw):
            # The future was collected, or the process is exiting (finalize's atexit pass).
            if not state.retrieved:
                report("concurrent.futures", exc_type, what, throw,
                       "exit" if exiting else "collected")

        def get_exception(self):
            exc = self.__dict__.get("_exception")
            if exc is not None and getframe(1).f_code in readers and self._state == FINISHED:
                state = states.get(self)
                if state is not None:
                    state.retrieved = True
            return exc

        def set_exception(self, exc):
            self.__dict__["_exception"] = exc
            if exc is None:
                return
            try:
                state = _State()
                state.retrieved = False
                states[self] = state
                # Never raised (Future().set_exception(E())): where it was set instead.
                # Frames: this setter, Future.set_exception, its caller.
                thrown = raise_frames(exc) or caller_frames(2)
                weakref.finalize(self, unretrieved, state, type_of(exc), message_of(exc),
                                 frames_text(thrown))
                if not exiting_registered:
                    # atexit runs handlers last-in first-out: registered after finalize's own
                    # handler, this one runs just before it and marks the exit pass.
                    import atexit

                    atexit.register(exiting.append, True)
                    exiting_registered.append(True)
            except BaseException:
                pass

        Future._exception = property(get_exception, set_exception)

    def patch_asyncio(base_events):
        Loop = base_events.BaseEventLoop
        if getattr(Loop, "_loopsan_patched", False):
            return
        call_exception_handler = Loop.call_exception_handler
        lost = ("Task exception was never retrieved", "Future exception was never retrieved")

        def loopsan_call_exception_handler(self, context):
            try:
                exc = context.get("exception")
                if context.get("message") in lost and exc is not None:
                    report("asyncio", type_of(exc), message_of(exc),
                           frames_text(raise_frames(exc)), "collected")
            except BaseException:
                pass
            return call_exception_handler(self, context)

        fn = loopsan_call_exception_handler
        fn.__name__ = call_exception_handler.__name__
        fn.__qualname__ = call_exception_handler.__qualname__
        fn.__doc__ = call_exception_handler.__doc__
        fn.__wrapped__ = call_exception_handler
        Loop.call_exception_handler = fn
        Loop._loopsan_patched = True

    def patch_asyncio_events(events):
        # run_forever() calls events._set_running_loop(self) as it starts and (None) as it
        # stops: the exact extent of a running loop, which its epoll set outlives when a
        # program runs a loop without closing it. Called around the original, never in a
        # traceback.
        set_running_loop = events._set_running_loop
        if getattr(set_running_loop, "_loopsan", False):
            return

        def _set_running_loop(loop):
            set_running_loop(loop)
            loop_running(loop is not None)

        _set_running_loop.__doc__ = set_running_loop.__doc__
        _set_running_loop._loopsan = True
        events._set_running_loop = _set_running_loop

    def patch_threading(threading):
        # threading._shutdown(), which Py_FinalizeEx calls before the atexit handlers, first
        # runs the callbacks of threading._register_atexit (3.9+), then marks the main thread
        # stopped and waits for every non-daemon thread, for ever if one never ends. The
        # callback below runs there, last of those callbacks (concurrent.futures' own, which
        # stops its idle workers, runs before it), hands the threads still alive to the shim and
        # returns at once (waiting here would hold up a thread that joins the main thread): the
        # watchdog reports those still running hang_threshold_ms later.
        Thread = threading.Thread
        if getattr(Thread.start, "_loopsan", False) or hang_threshold_ms <= 0:
            return
        register = getattr(threading, "_register_atexit", None)
        if register is None:
            return
        start = Thread.start
        getframe = sys._getframe
        lazy_lines = hasattr(getframe().f_code, "co_lines")  # 3.10+

        def loopsan_start(self):
            # Where start() was called, as cheaply as it can be kept: (code, instruction) pairs,
            # turned into lines only if the thread is ever reported. On the instance: a dict
            # store, where a WeakKeyDictionary would cost as much again.
            try:
                site = []
                frame = getframe(1)
                while frame is not None and len(site) < 32:
                    site.append((frame.f_code, frame.f_lasti if lazy_lines else frame.f_lineno))
                    frame = frame.f_back
                self._loopsan_started_at = site
            except BaseException:
                pass
            return start(self)

        def line_at(code, where):
            if not lazy_lines:
                return where
            for begin, end, line in code.co_lines():
                if begin <= where < end:
                    return -1 if line is None else line
            return -1

        def start_site(thread):
            site = getattr(thread, "_loopsan_started_at", None) or ()
            return [(code.co_name, code.co_filename, line_at(code, where)) for code, where in site]

        loopsan_start.__name__ = start.__name__
        loopsan_start.__qualname__ = start.__qualname__
        loopsan_start.__doc__ = start.__doc__
        loopsan_start.__wrapped__ = start
        loopsan_start._loopsan = True

        def still_running():
            main = threading.main_thread()
            me = threading.current_thread()
            return [t for t in threading.enumerate()
                    if t is not main and t is not me and not t.daemon and t.is_alive()]

        def check_at_shutdown():
            try:
                groups = {}
                for t in still_running():
                    groups.setdefault(tuple(start_site(t)), []).append(t)
                for site, threads in groups.items():
                    described = THREAD.join(
                        PART.join((clean(t.name), str(t.native_id or 0), str(t.ident or 0)))
                        for t in threads)
                    thread_leak(frames_text(site), described)
            except BaseException:
                pass

        register(check_at_shutdown)
        # Last of the callbacks (they run in reverse order of registration): after every
        # callback that stops threads of its own, registered before or after this one.
        callbacks = getattr(threading, "_threading_atexits", None)
        if callbacks and getattr(callbacks[-1], "func", None) is check_at_shutdown:
            callbacks.insert(0, callbacks.pop())
        Thread.start = loopsan_start

    def patch_thread_pool(thread):
        # ThreadPoolExecutor -> the pools' registry: python_pools.py, compiled only now (most
        # programs never import concurrent.futures.thread).
        if pool_install is not None:
            pool_install(thread, clean, frames_text)

    patches = {
        "threading": patch_threading,
        "concurrent.futures._base": patch_concurrent_futures,
        "asyncio.base_events": patch_asyncio,
        "asyncio.events": patch_asyncio_events,
        "concurrent.futures.thread": patch_thread_pool,
    }

    def apply(name, module):
        try:
            patches[name](module)
        except BaseException:
            pass

    class _PatchingLoader:
        """Runs the real loader, then patches the module it produced."""

        def __init__(self, loader, name):
            self._loader = loader
            self._name = name

        def create_module(self, spec):
            return self._loader.create_module(spec)

        def exec_module(self, module):
            self._loader.exec_module(module)
            apply(self._name, module)

        def __getattr__(self, attr):
            return getattr(self._loader, attr)

    class _LoopsanFinder:
        """Finds nothing itself: wraps the loader of the modules loopsan patches."""

        @classmethod
        def find_spec(cls, name, path=None, target=None):
            if name not in patches:
                return None
            for finder in sys.meta_path:
                if finder is cls:
                    continue
                find = getattr(finder, "find_spec", None)
                if find is None:
                    continue
                spec = find(name, path, target)
                if spec is not None:
                    if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                        spec.loader = _PatchingLoader(spec.loader, name)
                    return spec
            return None

    for name in patches:
        module = sys.modules.get(name)
        if module is not None:
            apply(name, module)
    sys.meta_path.insert(0, _LoopsanFinder)


_loopsan_install(_loopsan_report, _loopsan_loop_running, _loopsan_thread_leak,
                 _loopsan_hang_threshold_ms)
del _loopsan_install, _loopsan_report, _loopsan_loop_running, _loopsan_thread_leak
del _loopsan_hang_threshold_ms
del _loopsan_pool_install
