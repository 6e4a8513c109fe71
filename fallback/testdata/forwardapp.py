"""A WSGI app behind werkzeug's ProxyFix with every forwarding header on,
reporting what it believes about the client, for the fallback package's
tests against a real gunicorn: which forwarding headers, in whichever
spelling, reached the app.

gunicorn 20 gives X_Forwarded_For and X-Forwarded-For the same environ
key, HTTP_X_FORWARDED_FOR, joining their values in the order received, and
ProxyFix takes the last value.
"""

import json

from werkzeug.middleware.proxy_fix import ProxyFix


def echo(environ, start_response):
    body = json.dumps(
        {
            "remote_addr": environ.get("REMOTE_ADDR", ""),
            "host": environ.get("HTTP_HOST", ""),
            "scheme": environ.get("wsgi.url_scheme", ""),
            "script_name": environ.get("SCRIPT_NAME", ""),
        }
    ).encode()
    start_response(
        "200 OK",
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
    )
    return [body]


app = ProxyFix(echo, x_for=1, x_proto=1, x_host=1, x_prefix=1)
