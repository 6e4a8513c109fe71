"""An app that starts a thread while it is imported: under preload the
zygote warns, since forked workers get the thread's memory (its locks)
but not the thread."""

import threading
import time


def _tick():
    while True:
        time.sleep(1)


threading.Thread(target=_tick, name="ticker", daemon=True).start()


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
