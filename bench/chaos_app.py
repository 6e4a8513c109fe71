"""The Flask app of bench/chaos.sh (operations under load, docs/operations.md): / answers at
once; /slow/<s> sleeps; /stream yields ?n= lines ?d= seconds apart, each with the worker's pid;
/upload reads the body; /slowupload reads it 64 KiB every 50 ms, its pid in $CHAOS_DIR/slowupload.pid;
/busy loops in Python for ?s= seconds; /stuckc sleeps 60 s in libc (the GIL released), with a
thread that blocks every signal sleeping too. /sleep, /download, /sse, /raise_before and /raise_after
are the routes of wsgi/testdata/apps.py that bench/soak_clients.py asks for (bench/chaos_soak.sh)."""
import ctypes
import os
import signal
import threading
import time

from flask import Flask, request, Response

app = Flask(__name__)

@app.route("/")
def index():
    return "ok %d\n" % os.getpid()

@app.route("/slow/<float:s>")
def slow(s):
    time.sleep(s)
    return "slept %s %d\n" % (s, os.getpid())

@app.route("/pid")
def pid():
    return str(os.getpid())

@app.route("/stream")
def stream():
    n = int(request.args.get("n", 50))
    d = float(request.args.get("d", 0.1))
    def gen():
        for i in range(n):
            yield ("chunk %d %d\n" % (i, os.getpid())).encode()
            time.sleep(d)
    return Response(gen(), mimetype="text/plain")

@app.route("/upload", methods=["POST"])
def upload():
    total = 0
    while True:
        b = request.stream.read(65536)
        if not b:
            break
        total += len(b)
    return "got %d\n" % total

@app.route("/busy")
def busy():
    # busy loop in Python (holds GIL in bytecode, signals handled between bytecodes)
    t = time.time() + float(request.args.get("s", 60))
    while time.time() < t:
        pass
    return "busy done"

@app.route("/stuckc")
def stuckc():
    # block in C: a thread sleeping in libc with all signals blocked; main waits via join (C-level lock wait)
    libc = ctypes.CDLL(None)
    def f():
        signal.pthread_sigmask(signal.SIG_BLOCK, range(1, signal.NSIG))
        libc.sleep(60)
    th = threading.Thread(target=f)
    th.start()
    libc.sleep(60)  # main request thread in C sleep, GIL released
    return "stuck done"

@app.route("/slowupload", methods=["POST"])
def slowupload():
    total = 0
    open(os.path.join(os.environ.get("CHAOS_DIR", "/tmp"), "slowupload.pid"), "w").write(str(os.getpid()))
    while True:
        b = request.stream.read(65536)
        if not b:
            break
        total += len(b)
        time.sleep(0.05)
    return "got %d\n" % total


@app.route("/sleep")
def sleep():
    time.sleep(float(request.args.get("s", 1)))
    return "slept\n"

_MIB = b"d" * (1 << 20)

@app.route("/download")
def download():
    n = int(request.args.get("mib", 1))
    return Response((_MIB for _ in range(n)), mimetype="application/octet-stream",
                    headers={"Content-Length": str(n << 20)})

@app.route("/sse")
def sse():
    n, gap = int(request.args.get("n", 3)), float(request.args.get("gap", 0.2))
    def gen():
        for i in range(n):
            if i:
                time.sleep(gap)
            yield ("data: %d\n\n" % i).encode()
    return Response(gen(), mimetype="text/event-stream")

@app.route("/raise_before")
def raise_before():
    raise ValueError("raise-before-marker")

@app.route("/raise_after")
def raise_after():
    def gen():
        yield b"partial"
        raise ValueError("raise-after-marker")
    return Response(gen(), mimetype="text/plain")
