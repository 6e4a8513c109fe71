"""An app for the pool's lifecycle tests. With GRAFT_TEST_HANG_EXIT=1 in
its environment, its processes do not exit when told to: an atexit hook,
registered at import (so the preload process has it too), sleeps for good.

GET / answers the worker's pid. GET /csleep?s=N creates csleep-<pid> in
$GRAFT_TEST_DIR, then sleeps N seconds in C (libc's sleep through ctypes:
meanwhile the worker runs no Python code, and reads nothing from its
socket)."""

import atexit
import ctypes
import os
import time
from urllib.parse import parse_qsl

if os.environ.get("GRAFT_TEST_HANG_EXIT") == "1":
    atexit.register(time.sleep, 1000)


def app(environ, start_response):
    if environ.get("PATH_INFO") == "/csleep":
        q = dict(parse_qsl(environ.get("QUERY_STRING", "")))
        open(os.path.join(os.environ["GRAFT_TEST_DIR"], "csleep-%d" % os.getpid()), "w").close()
        ctypes.CDLL(None).sleep(int(q.get("s", "100")))
    body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
