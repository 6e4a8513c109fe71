"""TestNoCyclePerRequest's app: counts the cyclic garbage that requests
leave behind in the worker.

/start collects, then turns the cyclic collector off; /count collects and
answers how many unreachable objects it found since /start, then turns the
collector back on. Requests in between must leave none: a reference cycle
per request (the worker's state holding the environ that holds it back)
makes every request pay the cyclic collector, which reference counting
alone frees for nothing.
"""

import gc


def app(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if path == "/start":
        gc.collect()
        gc.disable()
        body = b"started\n"
    elif path == "/count":
        found = gc.collect()
        gc.enable()
        body = b"%d\n" % found
    elif path == "/stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return (b"part %d\n" % i for i in range(3))
    elif path == "/write":
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"written\n")
        return []
    else:
        body = b"hello\n"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
