"""The other `run` of app.py (see there)."""
import time


def run():
    time.sleep(0.02)  # BLOCKING-IN-JOBS
