"""An app whose import fails while the file "broken" is in $GRAFT_TEST_DIR,
as a deploy that put code that no longer imports on disk: the workers
already running go on, a new one (with preload off) cannot start. GET /
answers the worker's pid."""

import os

if os.path.exists(os.path.join(os.environ["GRAFT_TEST_DIR"], "broken")):
    raise RuntimeError("a broken deploy: $GRAFT_TEST_DIR/broken exists")


def app(environ, start_response):
    body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
