"""An app whose import can be held by the test: the first process to import
it while $GRAFT_TEST_DIR/hold exists takes that file (renames it to
holding-<pid>, so that the processes importing it after go on) and waits
until the test removes holding-<pid>. GET / answers the worker's pid."""

import os
import time

TEST_DIR = os.environ["GRAFT_TEST_DIR"]


def graft_import_held_here():
    mine = os.path.join(TEST_DIR, "holding-%d" % os.getpid())
    try:
        os.rename(os.path.join(TEST_DIR, "hold"), mine)
    except FileNotFoundError:
        return  # not held, or held by another process
    while os.path.exists(mine):
        time.sleep(0.005)


graft_import_held_here()


def app(environ, start_response):
    body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
