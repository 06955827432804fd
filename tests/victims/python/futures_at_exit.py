"""A failed future kept alive until the interpreter exits; then the process is killed with
SIGKILL in the second mode after a first, collected, failure."""
import concurrent.futures as cf
import gc
import os
import signal
import sys


def load_settings():
    raise PermissionError("settings unreadable")  # RAISE-EXIT


executor = cf.ThreadPoolExecutor(max_workers=1)
kept = executor.submit(load_settings)
cf.wait([kept])
executor.shutdown()
if len(sys.argv) > 1 and sys.argv[1] == "sigkill":
    del kept
    gc.collect()  # collected: the finding is written now
    os.kill(os.getpid(), signal.SIGKILL)
print("done")
