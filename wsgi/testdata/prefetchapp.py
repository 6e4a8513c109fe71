"""App for the prefetch tests: /die dies after a short delay; others answer their pid."""
import os
import time


def app(environ, start_response):
    if environ["PATH_INFO"] == "/die":
        time.sleep(0.05)
        os._exit(1)
    body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
