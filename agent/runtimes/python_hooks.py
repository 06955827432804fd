# loopsan's Python-level hooks, run inside the host interpreter by agent/python_hooks.cc just
# before the program's own code starts (the "cpython.run_*" audit events). `_loopsan_report`
# is a builtin function provided by the shim.
#
# It must not change what the program does or prints: it only wraps methods (thread checks are
# C method descriptors, with no frame in a traceback), keeps no reference to futures or
# exceptions beyond weak ones, and swallows its own errors.
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
# - asyncio across threads: methods that must run on their loop's thread, called from another
#   -> cross-thread-call; a loop started on a pool worker -> loop-on-pool-thread; a
#   run_coroutine_threadsafe future whose loop ended -> abandoned-future.
# - pytest: the plugin of tools/python/loopsan.py, served as the module `loopsan` with an
#   entry point pytest autoloads (python_pytest.h).
#
# `_loopsan_hang_threshold_ms` and the builtins are put in its globals by python_hooks.cc.


def _loopsan_install(report, loop_running, thread_leak, hang_threshold_ms, cross_thread,
                     loop_on_pool, abandoned, type_modified, checked_method):
    import sys

    # python_pools.cc's installer of python_pools.py (absent: no pool hooks).
    pool_install = globals().get("_loopsan_pool_install")
    # python_pytest.cc's plugin code and version (absent: no pytest plugin).
    pytest_plugin = globals().get("_loopsan_pytest_plugin")
    loopsan_version = globals().get("_loopsan_version")

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

    # Call sites are kept as (code, instruction) pairs, turned into lines only if reported.
    lazy_lines = hasattr(sys._getframe().f_code, "co_lines")  # 3.10+

    def line_at(code, where):
        if not lazy_lines:
            return where
        for begin, end, line in code.co_lines():
            if begin <= where < end:
                return -1 if line is None else line
        return -1

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
        patch_check_closed(Loop)
        patch_methods(Loop, ("stop",), is_loop=True)
        patch_close(Loop)

    # --- asyncio across threads: cross-thread-call, loop-on-pool-thread, abandoned-future ---
    #
    # running_loops maps every loop that runs now to the threading.get_ident() of its thread.
    # It is kept by the patched events._set_running_loop, which every asyncio loop (and
    # uvloop's) calls as run_forever starts and ends, so it knows loops that are not
    # BaseEventLoops too. A plain dict: a running loop is referenced by its thread anyway.
    import _thread

    get_ident = _thread.get_ident
    running_loops = {}
    running_get = running_loops.get
    loop_threads = {}  # loop -> (native id, ident) of its thread, for reports
    # Loops an exception ended -> why (why_ended's strings; weak keys, made at the first). The
    # submitter of run_coroutine_threadsafe() remembers its future after submitting it: a loop
    # thread quick enough to run the coroutine and die in between finds nothing to report, so
    # the submitter looks here once it has remembered it. Strings, not the exception: its
    # traceback holds run_forever's frame, whose `self` is the key, which would then never die
    # (every such loop and its test case kept for the life of the process).
    dead_loops = None
    checked_codes = set()  # the code of every function below that checks the calling thread

    def asyncio_frame(frame):
        file = frame.f_code.co_filename
        return file.endswith(".py") and ("/asyncio/" in file or "/uvloop/" in file)

    def called_api(frame):
        # The asyncio API the program called: the outermost of the asyncio frames that lead
        # to the check (call_later -> call_at -> _check_closed names call_later).
        name = None
        while frame is not None and (frame.f_code in checked_codes or asyncio_frame(frame)):
            if frame.f_code not in checked_codes:
                code = frame.f_code
                name = getattr(code, "co_qualname", code.co_name)
            frame = frame.f_back
        return name

    ALTERNATIVES = {
        "create_task": "asyncio.run_coroutine_threadsafe(coro, loop)",
        "call_later": "loop.call_soon_threadsafe(loop.call_later, delay, callback)",
        "call_at": "loop.call_soon_threadsafe(loop.call_at, when, callback)",
        "stop": "loop.call_soon_threadsafe(loop.stop)",
    }

    last_report = _thread._local()

    def thread_name(ident=None):
        threading = sys.modules.get("threading")
        if threading is None:
            return ""
        thread = threading._active.get(get_ident() if ident is None else ident)
        return "" if thread is None else thread.name

    def foreign_call(loop, call, frame):
        # `call` ran on this thread while `loop` runs on another one. `frame`: the checking
        # function's caller. When asyncio's own code called it (Queue.put_nowait ->
        # Future.set_result), the finding is about the asyncio API the program called, the
        # outermost asyncio frame, and it is reported once for that call of the program's.
        try:
            api, user = None, frame
            while user is not None and (user.f_code in checked_codes or asyncio_frame(user)):
                if user.f_code not in checked_codes:
                    api = user
                user = user.f_back
            key = (id(user), user.f_lasti if user is not None else -1)
            if getattr(last_report, "key", None) == key:
                return
            last_report.key = key
            if api is not None:
                call = getattr(api.f_code, "co_qualname", api.f_code.co_name)
            name = call or "call_soon"
            method = name.rpartition(".")[2]
            receiver = name.rpartition(".")[0]
            if receiver.endswith("EventLoop") or receiver in ("", "Loop"):
                shown = "loop." + method
                alternative = ALTERNATIVES.get(
                    method, "loop.call_soon_threadsafe(loop.%s, ...)" % method)
            else:
                kind = receiver.rpartition(".")[2] or receiver
                shown = kind + "." + method
                target = {"Future": "future", "Task": "task", "Queue": "queue",
                          "Event": "event", "Condition": "condition"}.get(kind, "obj")
                alternative = "loop.call_soon_threadsafe(%s.%s, ...)" % (target, method)
            native, ident = loop_threads.get(loop, (0, 0))
            cross_thread(clean(shown), clean(alternative), native, clean(thread_name(ident)),
                         clean(thread_name()))
        except Exception:
            pass

    def patch_asyncio_events(events):
        # run_forever() calls events._set_running_loop(self) as it starts and (None) as it
        # stops: the exact extent of a running loop, which its epoll set outlives when a
        # program runs a loop without closing it. Called around the original, never in a
        # traceback.
        set_running_loop = events._set_running_loop
        get_running_loop = events._get_running_loop
        if getattr(set_running_loop, "_loopsan", False):
            return

        def _set_running_loop(loop):
            if loop is None:
                old = get_running_loop()
                set_running_loop(None)
                loop_running(False)
                if old is not None and old in running_loops:
                    running_loops.pop(old, None)
                    loop_threads.pop(old, None)
                    loop_ended(old, sys._getframe(1))
            else:
                set_running_loop(loop)
                loop_running(True)
                try:
                    running_loops[loop] = get_ident()
                    loop_threads[loop] = (get_native_id(), get_ident())
                except Exception:
                    pass  # an unhashable loop class: not checked
                if dead_loops is not None:
                    dead_loops.pop(loop, None)  # run again after all (asyncio.Runner on ^C)
                loop_started(loop)

        _set_running_loop.__doc__ = set_running_loop.__doc__
        _set_running_loop._loopsan = True
        events._set_running_loop = _set_running_loop

    # loop-on-pool-thread: a loop that starts on a ThreadPoolExecutor's worker, or on a thread
    # that already ran another loop (a pool by another name), but never on the main thread:
    # one asyncio.run() after another there is how scripts and unittest's
    # IsolatedAsyncioTestCase work.
    get_native_id = _thread.get_native_id
    thread_loops = _thread._local()

    def on_main_thread():
        threading = sys.modules.get("threading")
        return threading is not None and get_ident() == threading.main_thread().ident

    def pool_of_this_thread():
        # The ThreadPoolExecutor whose worker this thread is: its Thread runs
        # concurrent.futures.thread._worker(executor_reference, ...). Read from the Thread
        # object, never from _worker's frame: f_locals would keep its last work item alive.
        module = sys.modules.get("concurrent.futures.thread")
        threading = sys.modules.get("threading")
        worker = getattr(module, "_worker", None)
        if worker is None or threading is None:
            return None
        thread = threading._active.get(get_ident())
        target = getattr(thread, "_target", None)
        if target is not worker and getattr(target, "__wrapped__", None) is not worker:
            return None
        args = getattr(thread, "_args", ())
        reference = args[0] if args else None
        return reference() if callable(reference) else None

    pool_loops = None  # executor -> loops started on its workers (a WeakKeyDictionary)

    def loop_started(loop):
        nonlocal pool_loops
        try:
            if on_main_thread():
                return
            # The last loop this thread ran, and how many distinct ones: asyncio.run runs its
            # loop three times, and a thread may run thousands of loops.
            last = getattr(thread_loops, "last", None)
            if last is not None and last() is loop:
                return
            thread_loops.last = weakref_or_strong(loop)
            distinct = getattr(thread_loops, "count", 0) + 1
            thread_loops.count = distinct
            executor = pool_of_this_thread()
            if executor is None and distinct != 2:
                return  # a thread of its own: reported once, at its second loop
            pool, workers, started = "", 0, 0
            if executor is not None:
                if pool_loops is None:
                    import weakref

                    pool_loops = weakref.WeakKeyDictionary()
                started = pool_loops.get(executor, 0) + 1
                pool_loops[executor] = started
                pool = getattr(executor, "_thread_name_prefix", "") or type(executor).__name__
                workers = getattr(executor, "_max_workers", 0) or 0
            loop_on_pool(clean(pool), workers, started, distinct, clean(thread_name()))
        except Exception:
            pass

    def weakref_or_strong(obj):
        import weakref

        try:
            return weakref.ref(obj)
        except TypeError:
            return lambda: obj

    # abandoned-future: run_coroutine_threadsafe's concurrent Future is completed by a
    # callback on the loop; a coroutine that raises SystemExit or KeyboardInterrupt ends the
    # loop (run_coroutine_threadsafe re-raises them) and the callback never runs: result()
    # waits for ever (https://github.com/python/cpython/issues/84559). Reported as the loop
    # ends, from the exception that ends it, and again when a thread then waits on such a
    # future without a timeout.
    loop_futures = None  # loop -> [weakref to each concurrent Future it should complete]

    def futures_of(loop):
        # Weak keys: a loop that is dropped without ever being closed takes its list along.
        nonlocal loop_futures
        if loop_futures is None:
            import weakref

            loop_futures = weakref.WeakKeyDictionary()
        return loop_futures

    def remember_future(loop, future, depth):
        site = []
        frame = sys._getframe(depth)
        while frame is not None and len(site) < 32:
            site.append((frame.f_code, frame.f_lasti if lazy_lines else frame.f_lineno))
            frame = frame.f_back
        future._loopsan_created_at = site
        import weakref

        futures = futures_of(loop).setdefault(loop, [])
        if len(futures) >= 64:
            futures[:] = [r for r in futures if (f := r()) is not None and not f.done()]
        futures.append(weakref.ref(future))

    def ending_exception(frame):
        # The exception that ends the loop now, if one does: it is propagating out of
        # run_forever, whose frame (`frame`, the caller of _set_running_loop) heads its
        # traceback, or out of a loop written in C (uvloop), below every frame still running.
        # An exception that an outer frame is merely handling (sys.exc_info() returns those too)
        # heads its traceback with a frame that is still running.
        exc = sys.exc_info()[1]
        tb = getattr(exc, "__traceback__", None)
        if tb is None:
            return None
        if tb.tb_frame is frame:
            return exc
        while frame is not None:
            if frame is tb.tb_frame:
                return None
            frame = frame.f_back
        return exc

    # Why a loop's futures can never complete, as the report says it: the exception's type,
    # message, where it was raised and the coroutine that raised it; all "" for a closed loop.
    CLOSED = ("", "", "", "")

    def why_ended(exc):
        return (type_of(exc), message_of(exc), frames_text(raise_frames(exc)),
                clean(coroutine_of(exc)))

    def loop_ended(loop, frame):
        nonlocal dead_loops
        try:
            exc = ending_exception(frame)
            why = why_ended(exc) if exc is not None else None
            del exc
            if why is not None:
                if dead_loops is None:
                    import weakref

                    dead_loops = weakref.WeakKeyDictionary()
                dead_loops[loop] = why
            if loop_futures is None:
                return
            futures = loop_futures.pop(loop, None)
            if not futures:
                return
            if why is None:
                if loop.is_closed():
                    report_abandoned(loop, futures, CLOSED)
                else:
                    loop_futures[loop] = futures  # stopped: it may run again
                return
            report_abandoned(loop, futures, why)
        except Exception:
            pass

    def coroutine_of(exc):
        # The innermost coroutine in the traceback: the one that raised.
        name = ""
        tb = getattr(exc, "__traceback__", None)
        while tb is not None:
            code = tb.tb_frame.f_code
            if code.co_flags & 0x80:  # CO_COROUTINE
                name = getattr(code, "co_qualname", code.co_name)
            tb = tb.tb_next
        return name

    def report_abandoned(loop, futures, why):
        try:
            pending = [f for r in futures if (f := r()) is not None and not f.done()]
            if not pending:
                return
            by_site = {}
            for future in pending:
                future._loopsan_reported = True
                site = tuple(getattr(future, "_loopsan_created_at", ()))
                by_site.setdefault(site, []).append(future)
                watch_waits(future, why)
            exc_type, what, thrown, coro = why
            for site, group in by_site.items():
                waiters = sum(len(getattr(f._condition, "_waiters", ())) for f in group)
                abandoned(exc_type, what, thrown, frames_text(site_frames(site)), coro,
                          len(group), waiters, 0)
        except Exception:
            pass

    def site_frames(site):
        return [(code.co_name, code.co_filename, line_at(code, where)) for code, where in site]

    abandoned_conditions = {}  # a Condition class -> its subclass that reports waits

    def watch_waits(future, why):
        # Whoever waits on it from now on without a timeout waits for ever: the future's
        # Condition becomes one that reports such a wait (same lock, same behaviour).
        condition = getattr(future, "_condition", None)
        base = type(condition)
        if condition is None or getattr(base, "_loopsan", False):
            return
        created = frames_text(site_frames(getattr(future, "_loopsan_created_at", ())))
        info = (why[0], why[1], why[2], created, why[3])
        watched = abandoned_conditions.get(base)
        if watched is None:
            class AbandonedCondition(base):
                _loopsan = True

                def wait(self, timeout=None):
                    if timeout is None:
                        try:
                            abandoned(*self._loopsan_abandoned, 1, 0, 1)
                        except Exception:
                            pass
                    return base.wait(self, timeout)

            AbandonedCondition.__name__ = base.__name__
            AbandonedCondition.__qualname__ = base.__qualname__
            AbandonedCondition.__module__ = base.__module__
            watched = abandoned_conditions[base] = AbandonedCondition
        condition._loopsan_abandoned = info
        condition.__class__ = watched

    def patch_close(Loop):
        # A loop closed while futures it should complete are pending: they never will.
        close = Loop.close

        def loopsan_close(self):
            close(self)
            try:
                futures = loop_futures.pop(self, None) if loop_futures is not None else None
                if futures:
                    report_abandoned(self, futures, CLOSED)
            except Exception:
                pass

        for attr in ("__name__", "__qualname__", "__doc__"):
            setattr(loopsan_close, attr, getattr(close, attr, None))
        loopsan_close.__wrapped__ = close
        Loop.close = loopsan_close

    def patch_asyncio_tasks(tasks):
        real = tasks.run_coroutine_threadsafe
        if getattr(real, "_loopsan", False):
            return

        def run_coroutine_threadsafe(coro, loop):
            future = real(coro, loop)
            try:
                remember_future(loop, future, 2)
                why = dead_loops.get(loop) if dead_loops is not None else None
                if why is not None and not getattr(future, "_loopsan_reported", False):
                    report_abandoned(loop, loop_futures.pop(loop, []), why)
            except Exception:
                pass
            return future

        for attr in ("__name__", "__qualname__", "__doc__", "__module__"):
            setattr(run_coroutine_threadsafe, attr, getattr(real, attr))
        run_coroutine_threadsafe.__wrapped__ = real
        run_coroutine_threadsafe._loopsan = True
        tasks.run_coroutine_threadsafe = run_coroutine_threadsafe
        patch_methods(tasks.Task, ("cancel", "add_done_callback"))

    # cross-thread-call. The loop's own methods check in _check_closed(), which call_soon,
    # call_at (call_later), create_task and add_reader/add_writer call first: replaced by a
    # copy that also checks the thread, compiled so that its `raise` sits on the original's
    # line of the original's file (a closed loop's traceback reads exactly as before).
    # call_soon_threadsafe calls it too, from any thread, by design.
    def patch_check_closed(Loop):
        original = Loop.__dict__.get("_check_closed")
        code = getattr(original, "__code__", None)
        if code is None or "Event loop is closed" not in code.co_consts:
            return
        if lazy_lines:
            raise_line = max(line for _, _, line in code.co_lines() if line is not None)
        else:  # 3.8, 3.9: the same two-line body as since 3.5
            raise_line = code.co_firstlineno + 2
        threadsafe = Loop.call_soon_threadsafe.__code__
        source = ("\n" * (raise_line - 3) +
                  "def _check_closed(self):\n"
                  # All on the original `if self._closed:` line: a finding's stack shows that.
                  "    if ((thread := running_get(self)) is not None and thread != get_ident()"
                  " and getframe(1).f_code is not threadsafe"
                  " and foreign_call(self, None, getframe(1))) or self._closed:\n"
                  "        raise RuntimeError('Event loop is closed')\n")
        namespace = {"running_get": running_get, "get_ident": get_ident,
                     "getframe": sys._getframe, "threadsafe": threadsafe,
                     "foreign_call": foreign_call, "__name__": original.__module__}
        exec(compile(source, code.co_filename, "exec"), namespace)
        checked = namespace["_check_closed"]
        checked.__qualname__ = original.__qualname__
        checked.__doc__ = original.__doc__
        checked_codes.add(checked.__code__)
        Loop._check_closed = checked

    def foreign_from_c(loop, call):
        # A checked method (python_hooks.cc's checked_call) found `loop` running elsewhere;
        # the frame above this one is the checked method's caller: it has none of its own.
        foreign_call(loop, call, sys._getframe(1))

    checked_methods = set()  # id() of each checked method made, so that none is made twice

    def text_signature(real):
        # "($self, result, /)", the form CPython reads from a C method's __doc__.
        signature = getattr(real, "__text_signature__", None)
        if signature:
            return signature
        inspect = sys.modules.get("inspect")
        try:
            text = str(inspect.signature(real))
        except Exception:
            return ""
        return "($" + text[1:] if text.startswith("(self") else ""

    def make_checked(cls, real, name, is_loop):
        method_name = real.__name__
        signature = text_signature(real)
        doc = real.__doc__ or ""
        if signature:
            doc = method_name + signature + "\n--\n\n" + doc
        method = checked_method(cls, real, name, None if is_loop else "_loop", running_loops,
                                foreign_from_c, method_name, doc)
        checked_methods.add(id(method))
        return method

    def patch_methods(cls, names, is_loop=False):
        # C types (_asyncio.Future, _asyncio.Task) are immutable: their methods go into the
        # type's own dict, then PyType_Modified() drops CPython's method caches.
        real_dict = None
        for name in names:
            real = cls.__dict__.get(name)
            if real is None and is_loop:
                real = getattr(cls, name, None)  # uvloop.Loop inherits them from Cython
            if real is None or id(real) in checked_methods:
                continue
            # _put/_get: named by the public method that called them (called_api).
            public = None if name.startswith("_") else cls.__name__ + "." + name
            checked = make_checked(cls, real, public, is_loop)
            try:
                setattr(cls, name, checked)
            except TypeError:
                if real_dict is None:
                    import gc

                    referents = gc.get_referents(cls.__dict__)
                    if len(referents) != 1 or type(referents[0]) is not dict:
                        return
                    real_dict = referents[0]
                real_dict[name] = checked
        if real_dict is not None:
            type_modified(cls)

    def patch_asyncio_futures(futures):
        patch_methods(futures.Future, ("set_result", "set_exception", "cancel",
                                       "add_done_callback"))

    def patch_asyncio_queues(queues):
        # put_nowait/get_nowait (and put/get, through them) reach the queue through _put/_get:
        # checked there, no frame is added to a QueueFull/QueueEmpty traceback.
        for cls in vars(queues).values():
            if isinstance(cls, type) and issubclass(cls, queues.Queue):
                patch_methods(cls, ("_put", "_get"))

    def patch_uvloop(uvloop):
        # uvloop.Loop is a Python subclass of the Cython loop: its methods can be wrapped
        # there. uvloop calls asyncio's _set_running_loop, so running_loops knows its loops.
        patch_methods(uvloop.Loop, ("call_soon", "call_later", "call_at", "create_task",
                                    "add_reader", "add_writer", "stop"), is_loop=True)
        patch_close(uvloop.Loop)

    def patch_asyncio_locks(locks):
        patch_methods(locks.Event, ("set",))
        patch_methods(locks.Condition, ("notify", "notify_all"))

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
        "asyncio.futures": patch_asyncio_futures,
        "asyncio.tasks": patch_asyncio_tasks,
        "asyncio.queues": patch_asyncio_queues,
        "asyncio.locks": patch_asyncio_locks,
        "uvloop": patch_uvloop,
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

    # --- pytest: the plugin, found by pytest's entry-point autoload --------------------------
    #
    # A finder last on sys.meta_path: the module `loopsan` when nothing else provides one (an
    # installed or local copy wins), and to importlib.metadata a distribution `loopsan` with
    # the entry point `[pytest11] loopsan = loopsan`, which pytest loads unless
    # PYTEST_DISABLE_PLUGIN_AUTOLOAD is set or `-p no:loopsan` blocks it. pluggy skips an entry
    # point whose name is registered already, so `-p loopsan` or an installed dist-info never
    # registers it twice. Until pytest (or anyone) asks, this class is all there is: nothing
    # imported, compiled or read. Only a process that has imported pytest sees either: pip,
    # `importlib.metadata.distributions()` or `import loopsan` anywhere else find nothing (a
    # `pip freeze` under the shim must not list a package that is not installed).
    distribution = []

    def make_distribution():
        from importlib.metadata import Distribution

        files = {
            "METADATA": "Metadata-Version: 2.1\nName: loopsan\nVersion: %s\n"
                        "Summary: loopsan's pytest plugin, served by libloopsan.so\n"
                        % loopsan_version(),
            "entry_points.txt": "[pytest11]\nloopsan = loopsan\n",
        }

        class LoopsanDistribution(Distribution):
            # Python 3.8/3.9's Distribution has neither; the importlib_metadata backport
            # dedupes entry points by _normalized_name.
            name = "loopsan"
            _normalized_name = "loopsan"

            def read_text(self, filename):
                return files.get(filename)

            def locate_file(self, path):
                import pathlib

                return pathlib.PurePath("<libloopsan.so>", path)

        return LoopsanDistribution()

    class _LoopsanPluginFinder:
        """Finder and loader of the module `loopsan` (one class: less to make at every start)."""

        @classmethod
        def find_spec(cls, name, path=None, target=None):
            if name != "loopsan" or "_pytest.config" not in sys.modules:
                return None
            from importlib.machinery import ModuleSpec

            return ModuleSpec("loopsan", cls, origin="<libloopsan.so>")

        @staticmethod
        def create_module(spec):
            return None

        @staticmethod
        def exec_module(module):
            exec(pytest_plugin(), module.__dict__)

        @staticmethod
        def find_distributions(context=None):
            if "_pytest.config" not in sys.modules:
                return ()
            name = getattr(context, "name", None)
            if name is not None and name.lower().replace("_", "-") != "loopsan":
                return ()
            search = getattr(context, "path", None)
            if search is not None and search is not sys.path:
                return ()  # a search of other directories (a venv, a target dir)
            if not distribution:
                distribution.append(make_distribution())
            return tuple(distribution)

    if pytest_plugin is not None and loopsan_version is not None:
        sys.meta_path.append(_LoopsanPluginFinder)


_loopsan_install(_loopsan_report, _loopsan_loop_running, _loopsan_thread_leak,
                 _loopsan_hang_threshold_ms, _loopsan_cross_thread, _loopsan_loop_on_pool,
                 _loopsan_abandoned, _loopsan_type_modified, _loopsan_checked_method)
del _loopsan_install, _loopsan_report, _loopsan_loop_running, _loopsan_thread_leak
del _loopsan_hang_threshold_ms, _loopsan_cross_thread, _loopsan_loop_on_pool
del _loopsan_abandoned, _loopsan_type_modified, _loopsan_checked_method
del _loopsan_pool_install, _loopsan_pytest_plugin, _loopsan_version
