"""An app whose own threads print and log at the same time
(TestAppThreadOutput).

GET /threads?tag=T&n=N starts N threads of its own, which wait for each
other, then each print ROUNDS lines "tp-T-i-r" (print writes the text,
then the newline), write the traceback of a ValueError("tptb-T-i") with
traceback.print_exc (a line at a time), and log a record "tplog-T-i-r"
after each print; the view waits for them and answers "ok". With
?pipe=1 each thread also writes "tpfd-T-i-r\\n" to descriptor 2 in two
os.write calls (C code, a subprocess)."""

import logging
import os
import threading
import traceback

from flask import Flask, request

app = Flask(__name__)
log = logging.getLogger(__name__)
ROUNDS = 30


def work(tag, i, barrier, pipe):
    barrier.wait(timeout=10)
    for r in range(ROUNDS):
        print("tp-%s-%d-%d" % (tag, i, r))
        log.warning("tplog-%s-%d-%d", tag, i, r)
        if pipe:
            os.write(2, b"tpfd-%s-%d-" % (tag.encode(), i))
            os.write(2, b"%d\n" % r)
    try:
        raise ValueError("tptb-%s-%d" % (tag, i))
    except ValueError:
        traceback.print_exc()


@app.get("/threads")
def threads():
    tag = request.args["tag"]
    n = int(request.args.get("n", "4"))
    pipe = request.args.get("pipe") == "1"
    barrier = threading.Barrier(n)
    ts = [threading.Thread(target=work, args=(tag, i, barrier, pipe)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return "ok"
