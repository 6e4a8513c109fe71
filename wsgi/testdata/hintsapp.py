"""An app that sends 103 Early Hints through wsgi.early_hints."""

HINTS = [
    ("Link", "</style.css>; rel=preload; as=style"),
    ("Link", "</app.js>; rel=preload; as=script"),
]


def app(environ, start_response):
    path = environ["PATH_INFO"]
    hints = environ["wsgi.early_hints"]
    if path == "/":
        hints(HINTS)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"final"]
    if path == "/stream":
        hints(HINTS[:1])
        hints(HINTS[1:])  # two 103s
        start_response("200 OK", [("Content-Type", "text/plain")])

        def body():
            yield b"a"
            hints([("Link", "</late.css>; rel=preload")])  # too late: nothing is sent
            yield b"b"

        return body()
    if path == "/bad":
        try:
            hints([("Link", "</x>\r\nX-Injected: 1")])
        except ValueError as e:
            start_response("400 Bad Request", [("Content-Type", "text/plain")])
            return [str(e).encode()]
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"accepted"]
    if path == "/none":
        hints([])  # nothing to send
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"none"]
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not found"]
