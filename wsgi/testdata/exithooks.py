"""An app whose process leaves traces only at exit: an atexit hook that
writes atexit-<pid> in $GRAFT_TEST_DIR, and a logging.MemoryHandler that
holds its records until logging is shut down (at exit), then writes them to
$GRAFT_TEST_DIR/exithooks.log."""

import atexit
import logging
import logging.handlers
import os

TEST_DIR = os.environ["GRAFT_TEST_DIR"]

_target = logging.FileHandler(os.path.join(TEST_DIR, "exithooks.log"))
_buffered = logging.handlers.MemoryHandler(capacity=10000, flushLevel=logging.CRITICAL, target=_target)
log = logging.getLogger("exithooks")
log.setLevel(logging.INFO)
log.propagate = False  # only the MemoryHandler gets the records
log.addHandler(_buffered)


@atexit.register
def _at_exit():
    with open(os.path.join(TEST_DIR, "atexit-%d" % os.getpid()), "w") as f:
        f.write("ran")


def application(environ, start_response):
    log.info("served-by-%d", os.getpid())
    body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
