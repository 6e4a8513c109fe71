"""App for TestPrefetchedWithdrawnFromStalledWorker: /slow?N creates
"slow-N" in the directory of its X-Dir header, then waits until the test
creates "release-N" there; any other path appends its query string to "ran"
there (one line per run of the app) and answers the worker's pid."""
import os
import time


def app(environ, start_response):
    d = environ["HTTP_X_DIR"]
    if environ["PATH_INFO"] == "/slow":
        n = environ["QUERY_STRING"]
        open(os.path.join(d, "slow-" + n), "w").close()
        for _ in range(6000):
            if os.path.exists(os.path.join(d, "release-" + n)):
                break
            time.sleep(0.01)
    else:
        with open(os.path.join(d, "ran"), "a") as f:
            f.write(environ["QUERY_STRING"] + "\n")
    body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
