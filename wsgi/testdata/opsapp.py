"""WSGI app for graft's operations tests (wsgi/ops_test.go and
examples/wsgiserve/main_test.go): recycling, reloads, drain, metrics,
status page, slow-request log.

Every answer is "VERSION PID" unless the path says otherwise (/client:
"REMOTE_ADDR wsgi.url_scheme X-Forwarded-For"; /script: "SCRIPT_NAME
PATH_INFO", each in quotes). Reload tests
copy this file and edit the VERSION line.
"""

import ctypes
import os
import signal
import time
from urllib.parse import parse_qsl

VERSION = "v1"

# Memory kept on purpose by /alloc, so that the worker's RSS grows.
_kept = []


def ops_sleepy_function(seconds):
    time.sleep(seconds)


def _answer(start_response, body, status="200 OK"):
    body = body.encode("utf-8")
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def _stream(pid, seconds):
    yield b"%d\n" % pid
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(0.05)
        yield b"line\n"


def app(environ, start_response):
    path = environ.get("PATH_INFO", "")
    q = dict(parse_qsl(environ.get("QUERY_STRING", "")))
    if path == "/alloc":
        # b"x" * n writes every page, so it is resident.
        _kept.append(b"x" * (int(q.get("mib", "50")) << 20))
    elif path == "/sleep":
        ops_sleepy_function(float(q.get("s", "1")))
    elif path == "/csleep":
        # Stuck in C: libc's sleep(3), the GIL released; ?mask=1 blocks
        # every signal in the request's thread first. A signal that
        # reaches the thread (graft's SIGUSR1 for the stack dump) ends the
        # sleep early, which Python's own time.sleep would not let it do.
        if q.get("mask"):
            signal.pthread_sigmask(signal.SIG_BLOCK, range(1, signal.NSIG))
        ctypes.CDLL(None).sleep(int(q.get("s", "30")))
        return _answer(start_response, "woke up %d" % os.getpid())
    elif path == "/stream":
        # A streamed response (no Content-Length): "PID\n", then a line
        # every 50 ms for ?s= seconds.
        start_response("200 OK", [("Content-Type", "text/plain")])
        return _stream(os.getpid(), float(q.get("s", "10")))
    elif path == "/upload":
        # Reads the body 64 KiB at a time, 20 ms apart, having written its
        # pid to ?pidfile= before the first read; answers the byte count.
        with open(q["pidfile"] + ".tmp", "w") as f:
            f.write(str(os.getpid()))
        os.rename(q["pidfile"] + ".tmp", q["pidfile"])
        n = 0
        while True:
            b = environ["wsgi.input"].read(65536)
            if not b:
                break
            n += len(b)
            time.sleep(0.02)
        return _answer(start_response, "%d bytes" % n)
    elif path == "/client":
        # Who the app believes the client is, and the forwarding header it
        # would read itself (werkzeug's ProxyFix), "-" when it has none.
        return _answer(start_response, "%s %s %s" % (
            environ.get("REMOTE_ADDR"), environ["wsgi.url_scheme"], environ.get("HTTP_X_FORWARDED_FOR", "-")))
    elif path.endswith("/script"):
        # Where the app believes it is mounted (-script-name, $SCRIPT_NAME).
        return _answer(start_response, "%r %r" % (environ["SCRIPT_NAME"], path))
    return _answer(start_response, "%s %d" % (VERSION, os.getpid()))


application = app
