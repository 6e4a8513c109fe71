"""App for TestThreadedWorkerKilledRetriesUnstarted: /hold creates the file
named by its query string in the directory of its X-Hold-Dir header (the test
sees it started), then sleeps until the worker is killed; anything else
answers the worker's pid at once."""
import os
import time


def app(environ, start_response):
    if environ["PATH_INFO"] == "/hold":
        open(os.path.join(environ["HTTP_X_HOLD_DIR"], environ["QUERY_STRING"]), "w").close()
        time.sleep(60)
    body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
