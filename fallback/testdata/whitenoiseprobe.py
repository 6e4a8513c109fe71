"""Answers requests with real WhiteNoise, for the parity tests of fallback.Static.

Usage: python3 whitenoiseprobe.py ROOT PREFIX < requests.json

stdin is a JSON list of {"path": ..., "headers": {name: value}}; stdout is
a JSON list of {"status": int, "headers": {name: value}}, one per request,
as WhiteNoise (with its defaults) answers them for the files under ROOT
served at PREFIX. Requests WhiteNoise does not serve reach an app that
answers 404.
"""

import json
import sys

from whitenoise import WhiteNoise


def not_found(environ, start_response):
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not found"]


def main():
    root, prefix = sys.argv[1], sys.argv[2]
    app = WhiteNoise(not_found, root=root, prefix=prefix)
    out = []
    for req in json.load(sys.stdin):
        environ = {
            "REQUEST_METHOD": req.get("method", "GET"),
            "PATH_INFO": req["path"],
            "SCRIPT_NAME": "",
            "QUERY_STRING": "",
            "SERVER_NAME": "localhost",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.url_scheme": "http",
        }
        for name, value in req.get("headers", {}).items():
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        got = {}

        def start_response(status, headers, exc_info=None):
            got["status"] = int(status.split()[0])
            got["headers"] = dict(headers)

        body = app(environ, start_response)
        for _ in body:
            pass
        if hasattr(body, "close"):
            body.close()
        out.append(got)
    json.dump(out, sys.stdout)


main()
