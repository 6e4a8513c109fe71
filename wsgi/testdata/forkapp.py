"""A Flask app whose views fork, for fork_test.go.

GET /fork/<how>?tag=T forks a child that prints to stdout, writes to
stderr, logs a record and writes to wsgi.errors, each text carrying T, and
then ends as <how> says:

    os_exit      os._exit(0), as multiprocessing's children end
    sys_exit     sys.exit(0) after registering an atexit hook that prints
                 and logs: a normal interpreter exit, which runs atexit
                 hooks and flushes
    raise        an exception out of the view (Flask propagates it)
    return       the child falls out of the view and returns a response,
                 as if it were the worker
    linger       the child outlives the request: it sleeps, then prints
                 and logs again, with the number of sockets it holds, then
                 os._exit(0)
    big          the child logs a record of 4 MiB while the parent sends a
                 body of 4 MiB: both write at the same time
    levels       the child logs records at ERROR and WARNING (one of two
                 lines), one with a traceback (log.exception), and prints
                 "ERROR: ..." and "WARNING: ..." lines (child_levels)

The parent waits for the child (but for linger and big) and answers
"parent T <pid>". GET /mp?tag=T runs a multiprocessing Process with the
'fork' start method that prints and logs; GET /mp_terminate starts one
that sleeps, terminate()s it (SIGTERM) and answers its exit code; GET
/early_term forks a child that runs the worker's SIGTERM handler, as
a child forked without the at-fork hooks would on SIGTERM, and answers
how the child ended. GET
/exec_sockets answers how many sockets a program the app runs with
subprocess (close_fds=False) inherits. GET /pid answers the worker's pid;
GET /big answers 4 MiB of "x".
"""

import atexit
import stat
import subprocess
import logging
import multiprocessing
import os
import signal
import sys
import time

from flask import Flask, request

app = Flask(__name__)
app.config.update(PROPAGATE_EXCEPTIONS=True)
log = logging.getLogger("forkapp")
BIG = 4 << 20

def sockets():
    """How many sockets this process holds (among descriptors 0-1023): the
    worker's socket to Go is one."""
    n = 0
    for fd in range(1024):
        try:
            n += stat.S_ISSOCK(os.fstat(fd).st_mode)
        except OSError:
            pass
    return n


def child_talks(tag, errors):
    print("child-print-%s" % tag)
    sys.stderr.write("child-stderr-%s\n" % tag)
    log.warning("child-log-%s", tag)
    errors.write("child-errors-%s\n" % tag)
    errors.flush()


def child_levels(tag):
    """TestForkedChildRecordLevels: records at each level, one with a
    traceback, and prints that look like graft's old "LEVEL: text" lines."""
    log.error("child-error-%s", tag)
    log.warning("child-warning-%s\nsecond line", tag)
    log.warning("child-backslash-%s C:\\new\\r", tag)
    try:
        1 / 0
    except ZeroDivisionError:
        log.exception("child-exc-%s", tag)
    print("ERROR: child-fake-%s" % tag)
    sys.stderr.write("WARNING: child-fake-stderr-%s\n" % tag)


@app.get("/fork/<how>")
def fork(how):
    tag = request.args.get("tag", how)
    errors = request.environ["wsgi.errors"]
    pid = os.fork()
    if pid == 0:
        if how == "big":
            log.warning("child-big-%s %s", tag, "y" * BIG)
            os._exit(0)
        if how == "levels":
            child_levels(tag)
            os._exit(0)
        child_talks(tag, errors)
        if how == "os_exit":
            os._exit(0)
        if how == "sys_exit":
            atexit.register(lambda: (print("child-atexit-%s" % tag), log.warning("child-atexit-log-%s", tag)))
            sys.exit(0)
        if how == "raise":
            raise RuntimeError("child-raised-%s" % tag)
        if how == "return":
            return "child %s %d" % (tag, os.getpid())
        if how == "linger":
            time.sleep(1.5)
            print("child-late-print-%s sockets=%d" % (tag, sockets()))
            log.warning("child-late-log-%s", tag)
            os._exit(0)
        os._exit(2)
    if how == "big":
        return "p" * BIG
    if how != "linger":
        os.waitpid(pid, 0)
    return "parent %s %d" % (tag, os.getpid())


def mp_child(tag):
    print("mp-print-%s" % tag)
    logging.getLogger("forkapp.mp").warning("mp-log-%s", tag)


@app.get("/mp")
def mp():
    tag = request.args.get("tag", "mp")
    p = multiprocessing.get_context("fork").Process(target=mp_child, args=(tag,))
    p.start()
    p.join()
    return "parent %s %d exit %d" % (tag, os.getpid(), p.exitcode)


def mp_sleeper():
    time.sleep(60)


@app.get("/mp_terminate")
def mp_terminate():
    p = multiprocessing.get_context("fork").Process(target=mp_sleeper)
    p.start()
    time.sleep(0.2)
    p.terminate()
    p.join(5)
    if p.exitcode is None:
        p.kill()
        p.join()
        return "still running after terminate()"
    return "exit %d" % p.exitcode


@app.get("/early_term")
def early_term():
    handler = signal.getsignal(signal.SIGTERM)  # the worker's, which drops it
    pid = os.fork()
    if pid == 0:
        if signal.SIGTERM in signal.pthread_sigmask(signal.SIG_BLOCK, []):
            os._exit(3)  # the at-fork hooks left SIGTERM blocked
        handler(signal.SIGTERM, None)  # what a child forked without the hooks runs
        os._exit(0)  # dropped: the child went on
    if signal.SIGTERM in signal.pthread_sigmask(signal.SIG_BLOCK, []):
        return "the parent still blocks SIGTERM"
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return "signal %d" % os.WTERMSIG(status)
    return "exit %d" % os.WEXITSTATUS(status)


@app.get("/exec_sockets")
def exec_sockets():
    out = subprocess.run([sys.executable, "-c", "import forkapp; print(forkapp.sockets())"], close_fds=False, stdout=subprocess.PIPE, check=True)
    return out.stdout.decode().strip()


@app.get("/pid")
def pid():
    return str(os.getpid())


@app.get("/big")
def big():
    return "x" * BIG
