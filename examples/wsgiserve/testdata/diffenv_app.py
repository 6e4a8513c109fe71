"""Environ-echo WSGI app for the request-side differential test against
gunicorn (examples/wsgiserve/diffenv_test.go).

It answers, as JSON, every environ key whose value is a str, int, bool or
tuple (str values as latin-1 code points, as PEP 3333 gives them), and
the body it read through wsgi.input in the way the X-Diffenv-Read header
names:

  read      wsgi.input.read() (the default)
  readn     read(3) until it returns b""
  readline  readline() until it returns b""
  readlinen readline(4) until it returns b""
  readlines readlines()
  iter      for line in wsgi.input
  readneg   read(-1)
  readnone  read(None)
  read0     read(0), then read()
  readlineneg readline(-1) until it returns b""
  readlinesh readlines(5)
  mixed     readline(), read(2), readline(2), then read()
  none      the body is not read

"body" is the bytes read, as latin-1 text, "chunks" the pieces each call
returned (their lengths).
"""

import json


def _plain(v):
    if isinstance(v, bool) or isinstance(v, int) or isinstance(v, str):
        return v
    if isinstance(v, tuple):
        return [_plain(x) for x in v]
    return None


def app(environ, start_response):
    out = {}
    for k, v in environ.items():
        if isinstance(v, (str, int, bool, tuple)):
            out[k] = _plain(v)
    how = environ.get("HTTP_X_DIFFENV_READ", "read")
    inp = environ["wsgi.input"]
    chunks = []
    try:
        if how == "read":
            chunks.append(inp.read())
        elif how == "readn":
            while True:
                b = inp.read(3)
                if not b:
                    break
                chunks.append(b)
                if len(chunks) > 100000:
                    break
        elif how == "readline":
            while True:
                b = inp.readline()
                if not b:
                    break
                chunks.append(b)
        elif how == "readlinen":
            while True:
                b = inp.readline(4)
                if not b:
                    break
                chunks.append(b)
        elif how == "readlines":
            chunks.extend(inp.readlines())
        elif how == "readneg":
            chunks.append(inp.read(-1))
        elif how == "readnone":
            chunks.append(inp.read(None))
        elif how == "read0":
            chunks.append(inp.read(0))
            chunks.append(inp.read())
        elif how == "readlineneg":
            while True:
                b = inp.readline(-1)
                if not b:
                    break
                chunks.append(b)
        elif how == "readlinesh":
            chunks.extend(inp.readlines(5))
        elif how == "mixed":
            chunks.append(inp.readline())
            chunks.append(inp.read(2))
            chunks.append(inp.readline(2))
            chunks.append(inp.read())
        elif how == "iter":
            for b in inp:
                chunks.append(b)
        out["error"] = None
    except Exception as e:  # what the app saw, not a 500
        out["error"] = type(e).__name__
    body = b"".join(chunks)
    out["body"] = body.decode("latin-1")
    out["chunks"] = [len(c) for c in chunks]
    data = json.dumps(out, sort_keys=True).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]
