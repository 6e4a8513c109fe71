"""A Flask app that logs while it serves requests (TestRequestIDLog).

GET /log?tag=T logs "view-marker T" with app.logger and "module-marker T"
with logging.getLogger(__name__), in the thread that serves the request,
then has a thread of its own log "thread-marker T" (and waits for it).
With ?meet=N, the view first waits (up to 10 s) until N requests are in
their views at once, so that they are served concurrently by a worker's
threads. The import logs "import-marker", outside of any request.
"""

import logging
import threading

from flask import Flask, request

logging.getLogger(__name__).warning("import-marker")

app = Flask(__name__)

_barriers = {}
_lock = threading.Lock()


def meet(n):
    """Wait until n requests call meet(n) at once."""
    with _lock:
        barrier = _barriers.get(n)
        if barrier is None:
            barrier = _barriers[n] = threading.Barrier(n)
    barrier.wait(timeout=10)


@app.get("/log")
def log():
    tag = request.args["tag"]
    meet_n = int(request.args.get("meet", "1"))
    if meet_n > 1:
        meet(meet_n)
    app.logger.warning("view-marker %s", tag)
    logging.getLogger(__name__).warning("module-marker %s", tag)
    t = threading.Thread(target=lambda: logging.getLogger(__name__).warning("thread-marker %s", tag))
    t.start()
    t.join()
    return "logged " + tag
