"""Bare WSGI apps of graft's benchmark suite: the server's own cost, with as
little Python as possible."""


def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "13")])
    return [b"Hello world!\n"]


CHUNK = b"x" * (64 << 10)
DOWNLOAD = 10 << 20


def files(environ, start_response):
    """/upload reads the body and answers its length; /download sends 10 MiB
    with a Content-Length; /stream yields 64 pieces of 1 KiB without one;
    anything else says hello."""
    path = environ.get("PATH_INFO", "/")
    if path == "/upload":
        inp, n = environ["wsgi.input"], 0
        while True:
            b = inp.read(65536)
            if not b:
                break
            n += len(b)
        body = b"%d\n" % n
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]
    if path == "/download":
        start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(DOWNLOAD))])
        return (CHUNK for _ in range(DOWNLOAD // len(CHUNK)))
    if path == "/stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return (b"%04d" % i + b"." * 1019 + b"\n" for i in range(64))
    return hello(environ, start_response)
