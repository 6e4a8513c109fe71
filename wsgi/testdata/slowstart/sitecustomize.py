"""Python's start-up hangs (for TestStartTimeoutBeforeWorker): with this
directory on PYTHONPATH, site imports this module before any of graft's
worker program runs, so the process has no SIGUSR1 handler yet, as an
interpreter still starting on an overloaded machine has none."""

import time

time.sleep(3600)
