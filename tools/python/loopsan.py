"""loopsan's pytest plugin: fails the test that raised a loopsan finding, with the report.

Under the loopsan shim (LD_PRELOAD=libloopsan.so, or `loopsan run -- pytest ...`) each test
item is a loopsan test (include/loopsan/loopsan.h: loopsan_test_begin/end): findings raised
while it runs, on any thread, are its own, and a test that raised findings of the selected
kinds fails with loopsan's excerpt as its failure text. Without the shim the plugin does
nothing and says so once in the header.

pytest loads it by itself under the shim: the shim serves this module as `loopsan`, with an
entry point in pytest's `pytest11` group (agent/runtimes/python_hooks.py). `cmake --install`
installs it with a dist-info of its own, so `pytest -p loopsan` works too; either way it is
registered once, under the name `loopsan` (`-p no:loopsan` turns it off).

Options: `--loopsan-kinds=KIND[,KIND...]` (ini: `loopsan_kinds`) fails tests only on findings
of these kinds; the others are listed as warnings in the terminal summary. `all` (the default)
fails on every kind, `none` on none (findings are only listed).
"""

import gc
import re

import pytest

# The kinds of agent/report/findings.def (tests/integration/pytest_test.cc checks the list):
# a misspelt kind in --loopsan-kinds is an error, not a silently passing suite.
KINDS = (
    "blocking-call",
    "loop-stall",
    "unretrieved-exception",
    "uncaught-exception",
    "hung-wait",
    "deadlock",
    "thread-leak",
    "loop-on-pool-thread",
    "pool-starvation",
    "cross-thread-call",
    "abandoned-future",
    "gil-contention",
)

# The name of the loopsan "test" open between test items: collection, the session's start and
# end. Its findings are listed in the summary and fail no test.
SESSION_SCOPE = "<pytest session>"

_active_session = None  # the _Session of this process's outermost pytest run


class _Api:
    """The shim's test-boundary C API, through ctypes. None of it exists without the shim."""

    def __init__(self, lib):
        import ctypes

        self._ctypes = ctypes
        self._begin = lib.loopsan_test_begin
        self._begin.argtypes = [ctypes.c_char_p]
        self._begin.restype = None
        self._end = lib.loopsan_test_end
        self._end.argtypes = []
        self._end.restype = ctypes.c_ulonglong
        self._report = lib.loopsan_test_report
        self._kinds = lib.loopsan_test_kinds
        for fn in (self._report, self._kinds):
            fn.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
            fn.restype = ctypes.c_size_t

    @staticmethod
    def load():
        """The API, or (None, why) when this process runs without the shim."""
        try:
            import ctypes

            lib = ctypes.CDLL(None)
            active = lib.loopsan_active
        except (ImportError, OSError, AttributeError):
            return None, "not loaded (run pytest under the shim: loopsan run -- pytest ...)"
        active.restype = ctypes.c_int
        if not active():
            return None, "loaded but inactive (a set-user-ID program?)"
        try:
            return _Api(lib), None
        except AttributeError:
            return None, "loaded, but this libloopsan.so has no test API (loopsan_test_begin)"

    def begin(self, name):
        self._begin(name.replace("\0", " ").encode("utf-8", "replace"))

    def end(self):
        return int(self._end())

    def _text(self, fn):
        size = fn(None, 0)
        if size == 0:
            return ""
        buf = self._ctypes.create_string_buffer(size + 1)
        fn(buf, size + 1)
        return buf.value.decode("utf-8", "replace")

    def report(self):
        return self._text(self._report)

    def kinds(self):
        return self._text(self._kinds)


def _parse_kinds(text):
    """--loopsan-kinds: None for every kind, else the set of kinds that fail a test."""
    names = [k for k in re.split(r"[,\s]+", text or "") if k]
    if not names or names == ["all"]:
        return None
    if names == ["none"]:
        return frozenset()
    unknown = [k for k in names if k not in KINDS]
    if unknown:
        raise pytest.UsageError(
            "--loopsan-kinds: unknown finding kind %s (known: all, none, %s)"
            % (", ".join(repr(k) for k in unknown), ", ".join(KINDS)))
    return frozenset(names)


def _blocks(text):
    """The excerpt split into its findings: [(kind, text)], each block starting with its line
    "loopsan: <kind>: <message>"; a trailing "... and N more findings" stays with the last."""
    blocks = []
    for line in text.splitlines():
        if line.startswith("loopsan: ") or not blocks:
            kind = line.split(": ", 2)[1] if line.startswith("loopsan: ") else ""
            blocks.append((kind, [line]))
        else:
            blocks[-1][1].append(line)
    return [(kind, "\n".join(lines)) for kind, lines in blocks]


class _Findings:
    """What one loopsan test raised, split into the findings that fail it and the others."""

    def __init__(self, kinds, text, selected):
        self.kinds = [k for k in kinds.splitlines() if k]
        failing, warning = [], []
        for kind, block in _blocks(text):
            (failing if selected is None or kind in selected else warning).append(block)
        self.failing_text = "\n".join(failing)
        self.warning_text = "\n".join(warning)
        is_failing = (lambda k: True) if selected is None else (lambda k: k in selected)
        self.failing_kinds = sorted({k for k in self.kinds if is_failing(k)})
        self.warning_kinds = sorted({k for k in self.kinds if not is_failing(k)})
        self.text = text


class _Crash:
    # The shape of pytest's ReprFileLocation that its short summary, --tb=line and junitxml read.
    def __init__(self, path, lineno, message):
        self.path, self.lineno, self.message = path, lineno, message

    def __str__(self):
        return "%s:%d: %s" % (self.path, self.lineno, self.message)


class _FindingsRepr:
    """A test's failure text (its report's longrepr) made of loopsan's excerpt. Duck-typed like
    pytest's own: toterminal() prints it, reprcrash (the first finding) is the one-line summary;
    a report sent between processes (xdist) becomes str() of it."""

    def __init__(self, text, location):
        path, lineno, _ = location
        self.text = text
        self.reprcrash = _Crash(path, (lineno or 0) + 1, text.splitlines()[0] if text else "")
        self.sections = []

    def addsection(self, name, content, sep="-"):
        self.sections.append((name, content, sep))

    def toterminal(self, tw):
        for line in self.text.splitlines():
            tw.line(line)
        for name, content, sep in self.sections:
            tw.sep(sep, name)
            tw.line(content)

    def __str__(self):
        return self.text


def _add_text(report, title, text):
    """Adds `text` to a report that already failed or errored, after its own failure text."""
    longrepr = report.longrepr
    if hasattr(longrepr, "addsection"):
        longrepr.addsection(title, text)
    elif longrepr is None:
        report.longrepr = text
    else:
        report.longrepr = "%s\n%s\n%s" % (longrepr, title, text)


def _old_collections():
    stats = gc.get_stats()
    return stats[1]["collections"] + stats[2]["collections"]


class _Session:
    """Registered as "loopsan-session" when the shim is loaded: opens a loopsan test around
    every item (a hook wrapper, so that every item is attributed even when another plugin runs
    its protocol) and lists in the terminal summary what the tests raised."""

    def __init__(self, api, selected):
        self.api = api
        self.selected = selected
        self.protocol_ran = None  # the item whose protocol _Protocol ran
        self.old_collections = 0  # collections of generations 1 and 2 when the test began
        self.tests = []  # (nodeid, loopsan_findings of its report)
        self.outside = []  # _Findings raised outside test items
        self.begin(SESSION_SCOPE)

    def begin(self, name):
        self.api.begin(name)
        self.old_collections = _old_collections()

    def collect(self):
        # A lost exception is found when its future is collected, and failed futures often
        # sit in reference cycles (future -> exception -> traceback -> frame -> future): collect
        # while the test that dropped them is still the open one. What the test made is in the
        # young generations unless a collection of generation 1 or 2 ran meanwhile (they move
        # survivors to the oldest): then everything is collected (~10 ms in a pytest process
        # of 30,000 objects), else the young generations only (~0.4 ms).
        gc.collect(2 if _old_collections() != self.old_collections else 1)

    def end(self, collect=True):
        """Ends the open loopsan test: its findings, or None."""
        if collect:
            self.collect()
        if self.api.end() == 0:
            return None
        return _Findings(self.api.kinds(), self.api.report(), self.selected)

    def end_session_scope(self):
        # The last test's end collected already: what died since then is the session's.
        findings = self.end(collect=False)
        if findings is not None:
            self.outside.append(findings)

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_protocol(self, item, nextitem):
        self.end_session_scope()
        self.begin(item.nodeid)
        self.protocol_ran = None
        yield
        if self.protocol_ran is not item:
            # Another plugin ran this item's protocol (pytest-rerunfailures does) and its
            # reports are out: the summary is all that can say what the test raised.
            findings = self.end()
            if findings is not None:
                self.tests.append((item.nodeid, {
                    "failing": [], "warning": findings.kinds,
                    "warning_text": findings.text,
                    "note": "run by another plugin"}))
        self.begin(SESSION_SCOPE)

    def pytest_runtest_logreport(self, report):
        # From the reports, not from the protocol: under xdist they arrive here from workers.
        info = getattr(report, "loopsan_findings", None)
        if info:
            self.tests.append((report.nodeid, info))

    def pytest_terminal_summary(self, terminalreporter):
        # Findings since the last test (sessionfinish hooks that ran before this one) are the
        # open session scope's.
        kinds = self.api.kinds()
        outside = list(self.outside)
        if kinds:
            outside.append(_Findings(kinds, self.api.report(), None))
        if not self.tests and not outside:
            return
        tr = terminalreporter
        tr.write_sep("=", "loopsan findings")
        for nodeid, info in self.tests:
            nodeid = tr.config.cwd_relative_nodeid(nodeid)  # as pytest's own summary says it
            if info["failing"]:
                tr.write_line("FAILED %s: %s" % (nodeid, ", ".join(info["failing"])))
            if info["warning"]:
                why = info.get("note") or "not in --loopsan-kinds"
                tr.write_line("warning %s: %s (%s)" % (nodeid, ", ".join(info["warning"]), why))
        for nodeid, info in self.tests:
            if info.get("warning_text"):
                tr.write_sep("-", "warnings of %s" % tr.config.cwd_relative_nodeid(nodeid))
                tr.write_line(info["warning_text"])
        for findings in outside:
            tr.write_sep("-", "outside tests (failing none): %s" % ", ".join(
                sorted(set(findings.kinds))))
            tr.write_line(findings.text.rstrip("\n"))

    def pytest_unconfigure(self, config):
        # What happens after pytest (the interpreter's exit) belongs to no test.
        global _active_session
        self.api.end()
        if _active_session is self:
            _active_session = None


class _Protocol:
    """Registered as "loopsan-protocol": runs each item's setup, call and teardown without
    logging their reports, ends its loopsan test once teardown is over and the item has let
    go of its fixtures, fails the test's call report when it raised findings of the selected
    kinds (so that pytest shows this test FAILED, with loopsan's excerpt as its failure), then
    logs the reports. One collection per test, after everything the test owned is released."""

    def __init__(self, session):
        self.session = session

    def pytest_runtest_protocol(self, item, nextitem):
        from _pytest.runner import runtestprotocol

        self.session.protocol_ran = item
        ihook = item.ihook
        ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        reports = runtestprotocol(item, nextitem=nextitem, log=False)
        findings = self.session.end()
        if findings is not None and reports:
            _attach(reports, findings)
        for report in reports:
            ihook.pytest_runtest_logreport(report=report)
        ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
        return True


def _attach(reports, findings):
    # The call report carries the test's outcome; without one (setup failed or skipped), the
    # setup report.
    report = next((r for r in reports if r.when == "call"), reports[0])
    failing_kinds, failing_text = findings.failing_kinds, findings.failing_text
    warning_kinds, warning_text = findings.warning_kinds, findings.warning_text
    note = None
    if failing_kinds:
        if report.passed and not hasattr(report, "wasxfail"):
            report.outcome = "failed"
            report.longrepr = _FindingsRepr(failing_text, report.location)
        elif report.failed:
            _add_text(report, "loopsan", failing_text)
        else:
            # Skipped or xfailed: pytest already says the test did not pass as such.
            note = "the test was %s" % ("xfailed" if hasattr(report, "wasxfail") else "skipped")
            warning_kinds = sorted(set(warning_kinds) | set(failing_kinds))
            warning_text = "\n".join(t for t in (failing_text, warning_text) if t)
            failing_kinds, failing_text = [], ""
    if warning_text:
        report.sections.append(("loopsan findings (not failing the test)", warning_text))
    # Plain data, so that xdist carries it from a worker to the summary.
    report.loopsan_findings = {"failing": failing_kinds, "warning": warning_kinds,
                               "warning_text": warning_text, "note": note}


def pytest_addoption(parser):
    group = parser.getgroup("loopsan", "loopsan (tests run under the loopsan shim)")
    group.addoption(
        "--loopsan-kinds", dest="loopsan_kinds", default=None, metavar="KIND[,KIND...]",
        help="fail a test only on loopsan findings of these kinds (all: every kind, the "
             "default; none: never); the others are listed in the summary")
    parser.addini("loopsan_kinds", "finding kinds that fail a test, as --loopsan-kinds",
                  default="")


def pytest_configure(config):
    if config.pluginmanager.has_plugin("loopsan-session"):
        return
    selected = _parse_kinds(config.getoption("loopsan_kinds") or config.getini("loopsan_kinds"))
    api, why = _Api.load()
    if api is None:
        config._loopsan_header = "loopsan: " + why
        return
    global _active_session
    if _active_session is not None:
        # A pytest run inside a test (pytester's in-process runs): loopsan tests do not nest,
        # its findings are the outer test's.
        config._loopsan_header = "loopsan: a nested session: findings count for the outer test"
        return
    if selected is None:
        on = "every kind"
    elif not selected:
        on = "no kind (--loopsan-kinds=none)"
    else:
        on = ", ".join(sorted(selected))
    config._loopsan_header = "loopsan: checking each test; findings fail it on: %s" % on
    session = _active_session = _Session(api, selected)
    config.pluginmanager.register(session, "loopsan-session")
    config.pluginmanager.register(_Protocol(session), "loopsan-protocol")


def pytest_report_header(config):
    return getattr(config, "_loopsan_header", None)
