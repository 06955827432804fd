#!/usr/bin/env python3
"""Golden tests of `loopsan report`'s output formats.

Every report in tests/golden/reports/ goes through `loopsan report --no-symbolize` as text,
json, sarif and --suppressions; each output must equal, byte for byte, its file in
tests/golden/expected/ (<report>.<format>). The CLI runs from tests/golden/, so the report
paths it prints are relative and the same on every machine; loopsan's version in the SARIF
driver reads @VERSION@.

    tests/golden/golden.py LOOPSAN            check (ctest runs this)
    tests/golden/golden.py LOOPSAN --update   rewrite expected/ from what LOOPSAN prints now

After --update, read the diff (git diff tests/golden/expected): it is the change to review.
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FORMATS = {
    "text": ["--format", "text"],
    "json": ["--format", "json"],
    "sarif": ["--format", "sarif", "--source-root", "/home/dev/proj"],
    "suppressions": ["--suppressions"],
}


def output(loopsan, report, args):
    run = subprocess.run([loopsan, "report", "--no-symbolize"] + args + ["reports/" + report],
                         cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if run.returncode != 0:
        raise SystemExit("loopsan report {} reports/{} exited {}: {}".format(
            " ".join(args), report, run.returncode, run.stderr.decode(errors="replace")))
    version = subprocess.run([loopsan, "--version"], stdout=subprocess.PIPE,
                             check=True).stdout.decode().split()[-1]
    return run.stdout.replace(('"' + version + '"').encode(), b'"@VERSION@"')


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    loopsan, update = sys.argv[1], "--update" in sys.argv[2:]
    reports = sorted(f for f in os.listdir(os.path.join(HERE, "reports")) if f.endswith(".jsonl"))
    failed = []
    for report in reports:
        for name, args in FORMATS.items():
            got = output(loopsan, report, args)
            path = os.path.join(HERE, "expected", "{}.{}".format(report[:-6], name))
            if update:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "wb") as f:
                    f.write(got)
                if os.path.exists(path + ".actual"):
                    os.remove(path + ".actual")
                continue
            try:
                with open(path, "rb") as f:
                    want = f.read()
            except FileNotFoundError:
                want = None
            if got != want:
                failed.append(path)
                actual = path + ".actual"
                with open(actual, "wb") as f:
                    f.write(got)
                print("golden: {} differs from what loopsan prints (written to {})".format(
                    os.path.relpath(path, HERE), os.path.relpath(actual, HERE)))
    if update:
        print("golden: rewrote {} files; review them with git diff".format(
            len(reports) * len(FORMATS)))
        return 0
    if failed:
        print("golden: {} of {} outputs differ; if the change is meant, run {} {} --update".format(
            len(failed), len(reports) * len(FORMATS), sys.argv[0], loopsan))
        return 1
    print("golden: {} outputs match".format(len(reports) * len(FORMATS)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
