"""A WSGI app for graft's HTTP-boundary tests (guard_test.go, boundary_test.go).

GET/POST anything: JSON with the request-target keys of the environ, the
Host, and the length and SHA-256 of the body it read.

/nosniff?mode=...: an HTML-looking body WITHOUT a Content-Type header, sent
by each response path of the container (mode: fast, fast_cl, empty, stream,
write, file, exc_info, status204, status304, head).
"""

import hashlib
import json
import os
import sys
import tempfile
from urllib.parse import parse_qsl

HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"
KEYS = ("REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "REQUEST_URI", "RAW_URI",
        "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL", "HTTP_HOST", "wsgi.url_scheme", "HTTPS",
        "CONTENT_LENGTH", "HTTP_TRANSFER_ENCODING", "HTTP_X_T")


def _nosniff(environ, start_response):
    mode = dict(parse_qsl(environ.get("QUERY_STRING", ""))).get("mode", "fast")
    if mode == "fast":
        start_response("200 OK", [])
        return [HTML]
    if mode == "fast_cl":
        start_response("200 OK", [("Content-Length", str(len(HTML)))])
        return [HTML]
    if mode == "empty":
        start_response("200 OK", [])
        return []
    if mode == "stream":
        start_response("200 OK", [("X-Mode", "stream")])

        def gen():
            yield HTML[:10]
            yield HTML[10:]
        return gen()
    if mode == "write":
        write = start_response("200 OK", [])
        write(HTML)
        return []
    if mode == "file":
        f = tempfile.TemporaryFile()
        f.write(HTML)
        f.seek(0)
        start_response("200 OK", [("Content-Length", str(len(HTML)))])
        return environ["wsgi.file_wrapper"](f, 8192)
    if mode == "exc_info":
        try:
            raise ValueError("boom")
        except ValueError:
            start_response("500 Internal Server Error", [], sys.exc_info())
            return [HTML]
    if mode == "raise":
        raise ValueError("boom before start_response")
    if mode == "status204":
        start_response("204 No Content", [])
        return []
    if mode == "status304":
        start_response("304 Not Modified", [])
        return []
    raise ValueError("unknown mode " + mode)


def app(environ, start_response):
    if environ.get("PATH_INFO") == "/nosniff":
        return _nosniff(environ, start_response)
    n = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(n) if n else b""
    doc = {k: environ[k] for k in KEYS if k in environ}
    doc["body_len"] = len(body)
    doc["body_sha256"] = hashlib.sha256(body).hexdigest()
    out = json.dumps(doc, ensure_ascii=True).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(out)))])
    return [out]
