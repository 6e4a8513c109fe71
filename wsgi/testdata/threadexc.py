"""An app whose own thread ends with an uncaught exception
(TestThreadExceptionWhole).

GET / starts a thread named "thexc-thread" that raises ValueError("thexc")
and waits for it, with sys.stderr replaced meanwhile by a proxy that
counts the writes made to it; the answer is that count: how many writes
threading.excepthook made of the thread's traceback."""

import sys
import threading


class CountingWrites:
    """sys.stderr's stand-in: counts write calls, passes everything on."""

    def __init__(self, inner):
        self.inner = inner
        self.writes = 0

    def write(self, s):
        self.writes += 1
        return self.inner.write(s)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def boom():
    raise ValueError("thexc")


def app(environ, start_response):
    inner = sys.stderr
    counting = sys.stderr = CountingWrites(inner)
    try:
        t = threading.Thread(target=boom, name="thexc-thread")
        t.start()
        t.join()
    finally:
        sys.stderr = inner
    body = b"%d" % counting.writes
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
