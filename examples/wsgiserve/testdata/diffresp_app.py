"""Fixture of the response differential (diffresp_test.go): each path is a
view that answers an odd but real WSGI response, served by wsgiserve and by
gunicorn alike, whose raw HTTP answers the test compares. /closed tells
whether the last /close-iter response's close() was called."""

import io
import os
import sys

closed = []


def ok(start_response, status="200 OK", headers=None, body=(b"hello",)):
    start_response(status, headers if headers is not None else [("Content-Type", "text/plain")])
    return list(body)


class Bytes(bytes):
    pass


class Closing:
    def __init__(self, parts):
        self.parts = parts

    def __iter__(self):
        return iter(self.parts)

    def close(self):
        closed.append(1)


def gen(parts, fail_at=None):
    for i, p in enumerate(parts):
        if i == fail_at:
            raise RuntimeError("diffresp: generator failed")
        yield p
    if fail_at == len(parts):
        raise RuntimeError("diffresp: generator failed")


def view(path, environ, start_response):
    T = [("Content-Type", "text/plain")]
    if path == "/ping":
        return ok(start_response, body=[b"pong"])
    # Status lines.
    if path == "/status-noreason":
        return ok(start_response, "200")
    if path == "/status-reason-odd":
        return ok(start_response, "200 Everything Is Fine Here")
    if path == "/status-reason-empty":
        return ok(start_response, "200 ")
    if path == "/status-reason-lower":
        return ok(start_response, "404 not found")
    if path == "/status-299":
        return ok(start_response, "299 Custom")
    if path == "/status-599":
        return ok(start_response, "599 Network Timeout")
    if path == "/status-999":
        return ok(start_response, "999 Max")
    if path == "/status-103":
        return ok(start_response, "103 Early Hints")
    if path == "/status-101":
        return ok(start_response, "101 Switching Protocols", T + [("Upgrade", "websocket")])
    if path == "/status-204":
        return ok(start_response, "204 No Content", [], [])
    if path == "/status-204-body":
        return ok(start_response, "204 No Content", T)
    if path == "/status-304":
        return ok(start_response, "304 Not Modified", [("ETag", '"x"')], [])
    if path == "/status-304-body":
        return ok(start_response, "304 Not Modified", [("ETag", '"x"')])
    # Header names and values.
    if path == "/hdr-lower":
        return ok(start_response, headers=[("content-type", "text/plain"), ("x-lower", "a")])
    if path == "/hdr-oddcase":
        return ok(start_response, headers=T + [("X-ODD-case", "a"), ("x-Www-AUTH", "b")])
    if path == "/hdr-setcookie-dup":
        return ok(start_response, headers=T + [("Set-Cookie", "a=1; Path=/"), ("Set-Cookie", "b=2; Path=/")])
    if path == "/hdr-dup-other":
        return ok(start_response, headers=T + [("X-Dup", "1"), ("X-Other", "o"), ("X-Dup", "2")])
    if path == "/hdr-order":
        return ok(start_response, headers=[("X-Zeta", "z"), ("X-Alpha", "a")] + T + [("X-Mid", "m")])
    if path == "/hdr-spaces":
        return ok(start_response, headers=T + [("X-Pad", "  padded  "), ("X-In", "a  b")])
    if path == "/hdr-tab":
        return ok(start_response, headers=T + [("X-Tab", "\ta\tb\t")])
    if path == "/hdr-empty":
        return ok(start_response, headers=T + [("X-Empty", "")])
    if path == "/hdr-latin1":
        return ok(start_response, headers=T + [("X-Latin", "caf\xe9")])
    if path == "/hdr-location":
        return ok(start_response, "302 Found", T + [("Location", "/elsewhere")])
    # Content-Length.
    if path == "/cl-short":
        return ok(start_response, headers=T + [("Content-Length", "3")])
    if path == "/cl-long":
        return ok(start_response, headers=T + [("Content-Length", "10")])
    if path == "/cl-spaces":
        return ok(start_response, headers=T + [("Content-Length", " 5 ")])
    if path == "/cl-zero-body":
        return ok(start_response, headers=T + [("Content-Length", "0")])
    if path == "/cl-204":
        return ok(start_response, "204 No Content", [("Content-Length", "0")], [])
    if path == "/cl-304":
        return ok(start_response, "304 Not Modified", [("Content-Length", "5")], [])
    if path == "/cl-gen":
        start_response("200 OK", T + [("Content-Length", "6")])
        return gen([b"ab", b"cd", b"ef"])
    # Hop-by-hop and server headers from the app.
    if path == "/app-te-chunked":
        start_response("200 OK", T + [("Transfer-Encoding", "chunked")])
        return gen([b"hello"])
    if path == "/app-conn-close":
        return ok(start_response, headers=T + [("Connection", "close")])
    if path == "/app-conn-keepalive":
        return ok(start_response, headers=T + [("Connection", "keep-alive")])
    if path == "/app-keepalive":
        return ok(start_response, headers=T + [("Keep-Alive", "timeout=5")])
    if path == "/app-upgrade":
        return ok(start_response, headers=T + [("Upgrade", "websocket")])
    if path == "/app-te":
        return ok(start_response, headers=T + [("TE", "trailers")])
    if path == "/app-trailer":
        return ok(start_response, headers=T + [("Trailer", "X-Sum")])
    if path == "/app-date":
        return ok(start_response, headers=T + [("Date", "Thu, 01 Jan 1970 00:00:00 GMT")])
    if path == "/app-server":
        return ok(start_response, headers=T + [("Server", "diffresp-app")])
    # Content-Type.
    if path == "/no-ctype":
        return ok(start_response, headers=[], body=[b"<html><body>hi</body></html>"])
    if path == "/no-ctype-gen":
        start_response("200 OK", [])
        return gen([b"<html>", b"<body>hi</body></html>"])
    if path == "/no-ctype-empty":
        return ok(start_response, headers=[], body=[])
    # Bodies.
    if path == "/empty-list":
        return ok(start_response, body=[])
    if path == "/empty-bytes":
        return ok(start_response, body=[b""])
    if path == "/gen":
        start_response("200 OK", T)
        return gen([b"ab", b"cd"])
    if path == "/gen-empty-strings":
        start_response("200 OK", T)
        return gen([b"", b"ab", b"", b"cd", b""])
    if path == "/gen-only-empty":
        start_response("200 OK", T)
        return gen([b"", b""])
    if path == "/write-plus-iter":
        write = start_response("200 OK", T)
        write(b"w1")
        write(b"w2")
        return [b"it"]
    if path == "/write-only":
        write = start_response("200 OK", T)
        write(b"written")
        return []
    if path == "/close-iter":
        del closed[:]
        start_response("200 OK", T)
        return Closing([b"a", b"b"])
    if path == "/closed":
        return ok(start_response, body=[b"closed=%d" % len(closed)])
    if path == "/gen-raise-before":
        start_response("200 OK", T)
        return gen([b"ab"], fail_at=0)
    if path == "/gen-raise-after":
        start_response("200 OK", T)
        return gen([b"ab", b"cd"], fail_at=1)
    if path == "/gen-raise-after-cl":
        start_response("200 OK", T + [("Content-Length", "4")])
        return gen([b"ab", b"cd"], fail_at=1)
    if path == "/raise":
        raise RuntimeError("diffresp: view failed")
    if path == "/start-twice":
        start_response("200 OK", T)
        start_response("201 Created", T)
        return [b"twice"]
    if path == "/exc-info-before":
        start_response("200 OK", T)
        try:
            raise ValueError("diffresp")
        except ValueError:
            start_response("500 Oops", T, sys.exc_info())
        return [b"error page"]
    if path == "/exc-info-after":
        write = start_response("200 OK", T)
        write(b"partial")
        try:
            raise ValueError("diffresp")
        except ValueError:
            start_response("500 Oops", T, sys.exc_info())
        return [b"never"]
    if path == "/bytes-subclass":
        return ok(start_response, body=[Bytes(b"sub"), Bytes(b"class")])
    if path == "/bytes-subclass-gen":
        start_response("200 OK", T)
        return gen([Bytes(b"sub"), Bytes(b"class")])
    if path == "/bytearray":
        return ok(start_response, body=[bytearray(b"ba")])
    if path == "/str-body":
        return ok(start_response, body=["text"])
    if path == "/none-body":
        start_response("200 OK", T)
        return None
    if path == "/many-chunks":
        return ok(start_response, body=[b"x"] * 2000)
    if path == "/many-chunks-gen":
        start_response("200 OK", T)
        return gen([b"y"] * 2000)
    if path == "/fw-file":
        start_response("200 OK", T)
        return environ["wsgi.file_wrapper"](open(os.path.join(os.path.dirname(__file__), "diffresp_file.txt"), "rb"))
    if path == "/fw-file-cl":
        start_response("200 OK", T + [("Content-Length", "4")])
        return environ["wsgi.file_wrapper"](open(os.path.join(os.path.dirname(__file__), "diffresp_file.txt"), "rb"))
    if path == "/fw-bytesio":
        start_response("200 OK", T)
        return environ["wsgi.file_wrapper"](io.BytesIO(b"from bytesio"))
    if path == "/cl-leading-zero":
        return ok(start_response, headers=T + [("Content-Length", "005")])
    if path == "/cl-plus":
        return ok(start_response, headers=T + [("Content-Length", "+5")])
    if path == "/cl-dup-same":
        return ok(start_response, headers=T + [("Content-Length", "5"), ("Content-Length", "5")])
    if path == "/cl-gen-long":
        start_response("200 OK", T + [("Content-Length", "10")])
        return gen([b"ab", b"cde"])
    if path == "/hdr-ctype-dup":
        return ok(start_response, headers=T + [("Content-Type", "text/html")])
    if path == "/hdr-ctype-empty":
        return ok(start_response, headers=[("Content-Type", "")])
    if path == "/hdr-case-dup":
        return ok(start_response, headers=T + [("X-A", "1"), ("x-a", "2"), ("X-a", "3")])
    if path == "/hdr-setcookie-expires":
        return ok(start_response, headers=T + [("Set-Cookie", "a=1; Expires=Wed, 21 Oct 2026 07:28:00 GMT"), ("Set-Cookie", "b=2")])
    if path == "/hdr-only-spaces":
        return ok(start_response, headers=T + [("X-Blank", "   ")])
    if path == "/hdr-many":
        return ok(start_response, headers=T + [("X-H%d" % i, str(i)) for i in range(150)])
    if path == "/status-trailing-space":
        return ok(start_response, "200 OK ")
    if path == "/status-205-body":
        return ok(start_response, "205 Reset Content")
    if path == "/status-304-ctype":
        return ok(start_response, "304 Not Modified", T + [("ETag", '"x"')], [])
    if path == "/start-in-gen":
        def lazy():
            start_response("200 OK", T)
            yield b"lazy"
        return lazy()
    if path == "/start-in-gen-empty":
        def lazy_empty():
            start_response("201 Created", T)
            return
            yield
        return lazy_empty()
    if path == "/write-in-gen":
        write = start_response("200 OK", T)
        def mixed():
            write(b"w")
            yield b"y"
        return mixed()
    if path == "/exc-info-none":
        start_response("200 OK", T)
        start_response("500 Oops", T, (None, None, None))
        return [b"none"]
    if path == "/close-raises":
        class CloseRaises(Closing):
            def close(self):
                raise RuntimeError("diffresp: close failed")
        start_response("200 OK", T)
        return CloseRaises([b"body"])
    if path == "/memoryview":
        start_response("200 OK", T)
        return gen([memoryview(b"mem"), b"view"])
    if path == "/big-list":
        return ok(start_response, body=[b"z" * 300000])
    if path == "/hdr-del":
        return ok(start_response, headers=T + [("X-Del", "a\x7fb")])
    if path == "/hdr-nul":
        return ok(start_response, headers=T + [("X-Nul", "a\x00b")])
    if path == "/hdr-crlf":
        return ok(start_response, headers=T + [("X-Split", "a\r\nX-Injected: 1")])
    if path == "/hdr-underscore":
        return ok(start_response, headers=T + [("X_Under", "u")])
    if path == "/hdr-name-space":
        return ok(start_response, headers=T + [("X Space", "s")])
    if path == "/hdr-name-colon":
        return ok(start_response, headers=T + [("X-Colon:", "c")])
    if path == "/status-crlf":
        return ok(start_response, "200 OK\r\nX-Injected: 1")
    if path == "/fw-empty":
        start_response("200 OK", T)
        return environ["wsgi.file_wrapper"](io.BytesIO(b""))
    if path == "/gen-empty-then-raise":
        start_response("200 OK", T)
        return gen([b"", b"x"], fail_at=1)
    if path == "/cl-zero-gen":
        start_response("200 OK", T + [("Content-Length", "0")])
        return gen([b"more"])
    if path == "/read-body":
        return ok(start_response, body=[environ["wsgi.input"].read()])
    if path == "/no-start":
        return [b"never started"]
    return ok(start_response, "404 Not Found", body=[b"no such case"])


def app(environ, start_response):
    return view(environ["PATH_INFO"], environ, start_response)
