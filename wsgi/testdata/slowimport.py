"""An app whose import hangs (for StartTimeout's tests): it sleeps at import
time, in a function whose name the logged stack must show. With
GRAFT_HANG_FLAG set, it hangs only while that file exists."""

import os
import time


def graft_import_hangs_here():
    time.sleep(3600)


flag = os.environ.get("GRAFT_HANG_FLAG")
if flag is None or os.path.exists(flag):
    graft_import_hangs_here()


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(os.getpid()).encode()]
