"""WSGI apps for graft's wsgi package tests.

Each behaviour app `name` also exists as `validated_name`, the same app
wrapped in wsgiref.validate.validator, which checks both sides of PEP 3333.

Apps that coordinate with the test use the directory in $GRAFT_TEST_DIR:
they wait for files the test creates, or record calls in files the test
reads. Most take their parameters from the query string.
"""

import collections
import gzip
import hashlib
import io
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from urllib.parse import parse_qsl
from wsgiref.validate import validator

TEST_DIR = os.environ.get("GRAFT_TEST_DIR", "")
log = logging.getLogger("apps")


def _q(environ):
    return dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))


def _path(name):
    return os.path.join(TEST_DIR, name)


def _touch(name, text=""):
    with open(_path(name), "a") as f:
        f.write(text)


def _wait_for(name, timeout=10.0):
    """Block until the test creates file `name` (or fail after timeout)."""
    deadline = time.monotonic() + timeout
    while not os.path.exists(_path(name)):
        if time.monotonic() > deadline:
            raise RuntimeError("timed out waiting for " + name)
        time.sleep(0.005)


def _text(start_response, body, status="200 OK", extra=()):
    if isinstance(body, str):
        body = body.encode("utf-8")
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))] + list(extra))
    return [body]


APPS = []


def app(fn):
    APPS.append(fn.__name__)
    return fn


@app
def hello(environ, start_response):
    return _text(start_response, "Hello, world!\n")


def make():
    """An app factory (module:make())."""
    return hello


NOT_CALLABLE = 42


@app
def pid(environ, start_response):
    return _text(start_response, str(os.getpid()))


@app
def orphan(environ, start_response):
    """Double-forks: a child forks a grandchild and exits, and the worker
    reaps the child; the grandchild, orphaned, exits too, and is left for
    whoever inherited it (PID 1, in a container; a child subreaper) to
    reap. ?linger=S keeps the grandchild alive S seconds, for the test to
    see who inherited it (and kill it once it has). Answers with the
    grandchild's pid, as soon as the child has exited: the grandchild
    closes its copies of the pipe first, or the answer would wait for the
    grandchild's exit (the read ends at EOF), and the test would race the
    reaper to see it."""
    linger = float(_q(environ).get("linger", "0"))
    r, w = os.pipe()
    child = os.fork()
    if child == 0:
        grandchild = os.fork()
        if grandchild == 0:
            os.close(r)
            os.close(w)
            time.sleep(linger)
            os._exit(0)
        os.write(w, str(grandchild).encode())
        os._exit(0)
    os.close(w)
    os.waitpid(child, 0)
    with os.fdopen(r) as f:
        return _text(start_response, f.read())


@app
def sndbuf(environ, start_response):
    """The send buffer (SO_SNDBUF) of this worker's socket to Go (fd 3)."""
    s = socket.socket(fileno=os.dup(3))
    try:
        return _text(start_response, str(s.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)))
    finally:
        s.close()


@app
def environ_dump(environ, start_response):
    """The environ as JSON: str values verbatim (latin-1 code points, ASCII
    escaped), other values described by type."""
    out, types = {}, {}
    for k, v in environ.items():
        if type(v) is str:
            out[k] = v
        else:
            types[k] = type(v).__name__
    inp, err = environ["wsgi.input"], environ["wsgi.errors"]
    doc = {
        "env": out,
        "types": types,
        "dict": type(environ) is dict,
        "version": list(environ["wsgi.version"]),
        "multithread": environ["wsgi.multithread"],
        "multiprocess": environ["wsgi.multiprocess"],
        "run_once": environ["wsgi.run_once"],
        "input_terminated": environ.get("wsgi.input_terminated"),
        "file_wrapper": callable(environ.get("wsgi.file_wrapper")),
        "input_api": all(hasattr(inp, a) for a in ("read", "readline", "readlines", "__iter__")),
        "errors_api": all(hasattr(err, a) for a in ("write", "writelines", "flush")),
        "body": environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)).decode("latin-1"),
    }
    body = json.dumps(doc, ensure_ascii=True).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


@app
def body(environ, start_response):
    """Reads wsgi.input the way ?mode= says; returns what each call gave as JSON."""
    q = _q(environ)
    mode = q.get("mode", "read")
    n = int(q.get("n", "5"))
    inp = environ["wsgi.input"]
    calls = []
    if mode == "read":  # read() with no argument: not allowed by the validator
        calls.append(inp.read())
        calls.append(inp.read())
    elif mode == "read_all":
        calls.append(inp.read(-1))
        calls.append(inp.read(10))
    elif mode == "read_none":  # read(None): the whole rest, as read(-1)
        calls.append(inp.read(None))
        calls.append(inp.read(None))
    elif mode == "readlines_hint":  # readlines(hint): whole lines until hint bytes
        calls.extend(inp.readlines(n))
        calls.append(inp.read(100))
    elif mode == "readn":
        while True:
            chunk = inp.read(n)
            calls.append(chunk)
            if not chunk:
                break
    elif mode == "readline":
        while True:
            line = inp.readline()
            calls.append(line)
            if not line:
                break
    elif mode == "readlinen":
        while True:
            line = inp.readline(n)
            calls.append(line)
            if not line:
                break
    elif mode == "readlines":
        calls.extend(inp.readlines())
        calls.append(inp.read(1))
    elif mode == "iter":
        calls.extend(iter(inp))
    elif mode == "cl":
        # Read exactly CONTENT_LENGTH, then check that EOF is simulated.
        cl = int(environ.get("CONTENT_LENGTH") or 0)
        calls.append(inp.read(cl))
        calls.append(inp.read(100))
    elif mode == "hash":
        h, total = hashlib.sha256(), 0
        while True:
            chunk = inp.read(1 << 20)
            if not chunk:
                break
            h.update(chunk)
            total += len(chunk)
        return _text(start_response, json.dumps({"len": total, "sha256": h.hexdigest(),
                                                 "cl": environ.get("CONTENT_LENGTH")}))
    elif mode == "raise":
        inp.read(1)
        raise RuntimeError("read a byte of the body, then failed")
    elif mode == "late":
        # Reads wsgi.input again in the iterable's close(): it runs before
        # the response's last frame, so the spooled body's file is still
        # this request's (at its end, since the body was read): never
        # another request's body, which Go may write into the file once
        # that frame has gone.
        class Late(list):
            def close(self):
                try:
                    log.warning("late read: %d bytes", len(inp.read()))
                except ValueError:
                    log.warning("late read: closed")

        inp.read()
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return Late([b"ok"])
    elif mode == "stream":
        # A streamed response (HEAD, DATA, END) that reads the body as it goes.
        def chunks():
            while True:
                chunk = inp.read(1 << 16)
                if not chunk:
                    return
                yield b"%d\n" % len(chunk)

        start_response("200 OK", [("Content-Type", "text/plain")])
        return chunks()
    doc = {"calls": [c.decode("latin-1") for c in calls], "cl": environ.get("CONTENT_LENGTH")}
    return _text(start_response, json.dumps(doc))


@app
def logs(environ, start_response):
    """Logs ?m= through every channel a Python app has."""
    m = _q(environ).get("m", "marker")
    err = environ["wsgi.errors"]
    err.write("errors-write-%s\n" % m)
    err.writelines(["errors-lines-%s" % m, "\n"])
    err.flush()
    print("stdout-print-%s" % m)
    print("stderr-print-%s" % m, file=sys.stderr)
    log.warning("logging-warning-%s", m)
    logging.getLogger("apps.child").error("logging-error-%s", m)
    return _text(start_response, str(os.getpid()))


@app
def stdio_order(environ, start_response):
    """Alternates ?n= prints and `logging` records ("order-<i>-print",
    "order-<i>-log"), then writes the ?m= marker to stderr in the ways the
    one-record-per-write rule is about: a multi-line write, a print of a
    multi-line string, partial writes, and a partial line before a record."""
    q = _q(environ)
    m = q.get("m", "marker")
    for i in range(int(q.get("n", "0"))):
        print("order-%d-print" % i)
        log.warning("order-%d-log", i)
    sys.stderr.write("%s-write-1\n%s-write-2\n" % (m, m))
    print("%s-print-1\n%s-print-2" % (m, m))
    sys.stdout.write("%s-part-1" % m)
    sys.stdout.write("-part-2\n%s-part-3" % m)
    sys.stdout.write("\n")
    sys.stdout.buffer.write(("%s-bytes\n" % m).encode())
    sys.stdout.write("%s-before-record" % m)
    log.warning("%s-record", m)
    print("%s-after-record" % m)
    return _text(start_response, str(os.getpid()))


@app
def signal_output(environ, start_response):
    """Streams ?mb= MiB in 64 KiB chunks while SIGALRM fires every 2 ms,
    its handler printing "tick" and logging "tock": a Python signal
    handler runs in the main thread (the one running the request with
    one thread), often inside a send to Go with the socket's lock held
    (the client waits 300 ms before reading: about 150 signals land in a
    blocked send). Not faster: at 200 us (until 2026-12-02) the worker's
    main thread, on a machine loaded by other tests, ran SIGALRM after
    SIGALRM and no request (seen: the first answer's head never came, the
    thread running at 70% CPU): a wall-clock timer whose handler takes
    longer than its interval leaves the program nothing else to run."""
    import signal

    def handler(signum, frame):
        print("tick")
        log.warning("tock")

    mb = int(_q(environ).get("mb", "16"))
    chunk = b"x" * 65536
    old = signal.signal(signal.SIGALRM, handler)
    start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(mb << 20))])

    def body():
        signal.setitimer(signal.ITIMER_REAL, 0.002, 0.002)
        try:
            for _ in range(mb * 16):
                yield chunk
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)

    return body()


@app
def bglog(environ, start_response):
    """Starts a thread that logs "background-<m>" ?s= seconds later, after
    the response: a record sent while the worker has no request."""
    q = _q(environ)
    m, s = q.get("m", "marker"), float(q.get("s", "0.3"))

    def later():
        time.sleep(s)
        log.warning("background-%s", m)

    threading.Thread(target=later, daemon=True).start()
    return _text(start_response, str(os.getpid()))


@app
def errors_lines(environ, start_response):
    """Writes one line to wsgi.errors in two parts, ?s= seconds apart:
    "<tok> begins ... <tok> ends"."""
    q = _q(environ)
    tok, err = q.get("tok", "t"), environ["wsgi.errors"]
    err.write("%s begins ... " % tok)
    time.sleep(float(q.get("s", "0.2")))
    err.write("%s ends\n" % tok)
    return _text(start_response, tok)


class _Unprintable:
    def __repr__(self):
        raise RuntimeError("repr-raises-marker")

    __str__ = __repr__


@app
def bad_start(environ, start_response):
    """Misuses start_response the way ?case= says."""
    case = _q(environ).get("case", "")
    ct = ("Content-Type", "text/plain")
    if case == "status":
        start_response("20 OK", [ct])
    elif case == "status_noreason":
        start_response("OK 200", [ct])
    elif case == "status_low":
        start_response("099 Low", [ct])
    elif case == "status_type":
        start_response(b"200 OK", [ct])
    elif case == "value_type":
        start_response("200 OK", [ct, ("X-Number", 1)])
    elif case == "name_type":
        start_response("200 OK", [ct, (b"X-Bytes", "v")])
    elif case == "crlf":
        start_response("200 OK", [ct, ("X-Split", "a\r\nSet-Cookie: evil=1")])
    elif case == "hop":
        start_response("200 OK", [ct, ("Connection", "close")])
    elif case == "hop_te":
        start_response("200 OK", [ct, ("Transfer-Encoding", "chunked")])
    elif case == "not_list":
        start_response("200 OK", (ct,))
    elif case == "not_tuple":
        start_response("200 OK", [["Content-Type", "text/plain"]])
    elif case == "twice":
        start_response("200 OK", [ct])
        start_response("200 OK", [ct])
    elif case == "no_start":
        return [b"body without start_response"]
    elif case == "non_latin1":
        start_response("200 OK", [ct, ("X-Name", "\u20ac")])
    elif case == "length_twice":
        start_response("200 OK", [ct, ("Content-Length", "3"), ("Content-Length", "18")])
    elif case == "length_huge":  # past what an HTTP length (int64) can be
        start_response("200 OK", [ct, ("Content-Length", "9" * 20)])
    elif case == "length_superscript":  # str.isdigit() says yes to "²"
        start_response("200 OK", [ct, ("Content-Length", "\u00b2")])
    elif case == "length_nbsp":  # not optional whitespace (RFC 9110: SP, HTAB)
        start_response("200 OK", [ct, ("Content-Length", "5\u00a0")])
    elif case == "huge_value":
        start_response("200 OK", [ct, ("X-Big", "v" * (2 << 20))])
    elif case == "huge_status":  # a reason phrase past the headers' bound
        start_response("200 " + "r" * (2 << 20), [ct])
    elif case == "value_unprintable":  # its __repr__ raises: the message still names the header
        start_response("200 OK", [ct, ("X-Odd", _Unprintable())])
    elif case == "many_headers":
        start_response("200 OK", [ct] + [("X-H%d" % i, "v" * 100) for i in range(20000)])
    return [b"should not be sent"]


class _OwnStr(str):
    """A str subclass whose own methods answer something else: a server
    must send the characters the string holds."""

    def __str__(self):
        return "from __str__"

    def strip(self, *args):
        return "from strip"

    def lower(self):
        return "from lower"

    def encode(self, *args, **kwargs):
        return b"from encode"


class _OwnList(list):
    """The headers list as a list subclass."""


_Header = collections.namedtuple("_Header", "name value")


@app
def str_subclass(environ, start_response):
    """Status, header names and values as str subclasses: markupsafe.Markup
    (which Flask apps pass around: not escaped again) and _OwnStr, in the
    headers list and in wsgi.early_hints; the list a list subclass, and
    one header a namedtuple. ?case=none: a None value, which
    is still refused."""
    from markupsafe import Markup

    if _q(environ).get("case") == "none":
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-None", None)])
        return [b"should not be sent"]
    environ["wsgi.early_hints"]([(Markup("Link"), Markup("</style.css>; rel=preload"))])
    body = b"subclassed"
    start_response(
        _OwnStr("299 Own"),
        _OwnList(
            [
                (Markup("Content-Type"), Markup("text/plain; charset=<utf-8>")),
                (_OwnStr("X-Own"), _OwnStr(" a & b ")),
                ("X-Markup", Markup("<em>x</em>")),
                _Header("X-Named", "tuple"),
                (_OwnStr("Content-Length"), _OwnStr(str(len(body)))),
            ]
        ),
    )
    return [body]


@app
def write_app(environ, start_response):
    """Uses the write() callable, then yields more: all of it, in order."""
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"one,")
    write(b"")
    write(b"two,")

    def rest():
        yield b"three,"
        yield b"four"

    return rest()


@app
def write_cl(environ, start_response):
    """write() past Content-Length: only Content-Length bytes go out."""
    write = start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    write(b"0123")
    write(b"456789")
    return []


@app
def late_start(environ, start_response):
    """start_response is called on the first iteration (PEP 3333 C4)."""

    def gen():
        start_response("201 Created", [("Content-Type", "text/plain"), ("X-Late", "yes")])
        yield b"late"

    return gen()


@app
def empty_chunks(environ, start_response):
    """Headers must wait for the first non-empty chunk: the app yields b''
    then blocks until the test creates ?go=."""
    q = _q(environ)

    def gen():
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-Head", "sent")])
        yield b""
        yield b""
        _wait_for(q["go"])
        yield b"data"

    return gen()


@app
def exc_before(environ, start_response):
    """start_response with exc_info before any byte is sent replaces the headers."""

    def gen():
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-First", "1")])
        yield b""
        try:
            raise ValueError("handled")
        except ValueError:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain"), ("X-Second", "2")],
                           sys.exc_info())
        yield b"error page"

    return gen()


@app
def exc_after(environ, start_response):
    """start_response with exc_info after headers went out re-raises: the
    response is aborted."""

    def gen():
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"partial"
        try:
            raise ValueError("exc-after-marker")
        except ValueError:
            start_response("500 Internal Server Error", [("Content-Type", "text/plain")], sys.exc_info())
        yield b"never"

    return gen()


@app
def exc_info_odd(environ, start_response):
    """start_response with an exc_info holding no exception
    (sys.exc_info() outside an except block: (None, None, None)) or one
    that is no sys.exc_info() tuple, as ?case= says: none_before replaces
    the headers not yet sent; none_after and junk_after come after the
    first chunk went out."""
    case = _q(environ).get("case", "none_after")
    exc_info = ("junk",) if case.startswith("junk") else sys.exc_info()

    def gen():
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-First", "1")])
        if case.endswith("_before"):
            yield b""
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")], exc_info)
            yield b"replaced"
            return
        yield b"partial"
        start_response("500 Internal Server Error", [("Content-Type", "text/plain")], exc_info)
        yield b"never"

    return gen()


@app
def stream(environ, start_response):
    """Yields ?n= chunks; before chunk i>0 it waits for the test to create
    <tok>-<i>. The test checks that each chunk arrives before the next one is
    produced."""
    q = _q(environ)
    n, tok = int(q.get("n", "3")), q.get("tok", "s")

    def gen():
        start_response("200 OK", [("Content-Type", "text/event-stream")])
        for i in range(n):
            if i:
                _wait_for("%s-%d" % (tok, i))
            _touch("%s-produced-%d" % (tok, i))
            yield ("data: chunk %d\n\n" % i).encode()

    return gen()


@app
def sse(environ, start_response):
    """Server-sent events with sleeps between them."""
    q = _q(environ)
    n, gap = int(q.get("n", "3")), float(q.get("gap", "0.2"))

    def gen():
        start_response("200 OK", [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")])
        for i in range(n):
            if i:
                time.sleep(gap)
            yield ("data: %d\n\n" % i).encode()

    return gen()


@app
def length(environ, start_response):
    """Content-Length vs body: ?cl= declared, ?body= sent, ?how=list|gen|tuple."""
    q = _q(environ)
    data = q.get("body", "").encode()
    headers = [("Content-Type", "text/plain")]
    if "cl" in q:
        headers.append(("Content-Length", q["cl"]))
    start_response(q.get("status", "200 OK"), headers)
    how = q.get("how", "list")
    if how == "list":
        return [data[:3], data[3:]]
    if how == "tuple":
        return (data,)
    if how == "empty":
        return []

    def gen():
        for i in range(0, len(data), 2):
            yield data[i:i + 2]

    return gen()


@app
def edge_space(environ, start_response):
    """Header values with spaces and tabs at their edges (and inside), in an
    Early Hint (?hints=1) and in the response."""
    if _q(environ).get("hints") == "1":
        environ["wsgi.early_hints"]([("Link", " </a.css>; rel=preload\t")])
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Lead", " \tlead"), ("X-Trail", "trail \t"),
                              ("X-Both", "  both  "), ("X-Inner", "in \t ner"), ("X-Blank", " \t "),
                              ("X-Trail", "second ")])
    return [b"ok"]


@app
def status(environ, start_response):
    """Answers ?code= with a body the server must drop for 204/304."""
    q = _q(environ)
    code = q.get("code", "204")
    headers = [("X-Status", code)]
    if code not in ("204", "304"):
        headers.append(("Content-Type", "text/plain"))
    if "ct" in q:
        headers.append(("Content-Type", q["ct"]))
    if "cl" in q:
        headers.append(("Content-Length", q["cl"]))
    start_response(code + " Whatever", headers)
    if q.get("how") == "gen":
        return iter([b"must ", b"not be sent"])
    return [b"must not be sent"]


class ClosingIter:
    """An iterable whose close() records itself in <tok>-closed."""

    def __init__(self, tok, mode):
        self.tok, self.mode = tok, mode

    def __iter__(self):
        if self.mode == "late":
            _touch(self.tok + "-started")  # the test may hang up now
            time.sleep(2)  # past the test's deadline, before any byte is out
        yield b"first;"
        if self.mode == "error":
            raise RuntimeError("closing-iter-error")
        if self.mode in ("forever", "late"):
            while True:
                time.sleep(0.02)
                yield b"tick;" * 100
        if self.mode == "burst":  # endless, and no pause between blocks
            while True:
                yield b"tick;"
        yield b"last"

    def close(self):
        _touch(self.tok + "-closed", "closed\n")


@app
def closing(environ, start_response):
    """?mode=ok|error|forever|late|before, ?tok= names the file close() writes,
    ?status= the status (200 OK)."""
    q = _q(environ)
    mode = q.get("mode", "ok")
    start_response(q.get("status", "200 OK"), [("Content-Type", "text/plain")])
    it = ClosingIter(q.get("tok", "c"), mode)
    if mode == "before":
        # Iterating raises before any byte is out: a 500, and close() anyway.
        class Early(ClosingIter):
            def __iter__(self):
                raise RuntimeError("closing-before")
                yield b""  # noqa

        it = Early(q.get("tok", "c"), mode)
    return it


class SlowClose:
    """Yields b"body;" then, in close(), ?close=sleep sleeps 10 s and
    ?close=exit kills the worker, after touching <tok>-closing."""

    def __init__(self, tok, mode):
        self.tok, self.mode = tok, mode

    def __iter__(self):
        yield b"body;"

    def close(self):
        _touch(self.tok + "-closing")
        if self.mode == "sleep":
            time.sleep(10)
        elif self.mode == "exit":
            os._exit(7)


@app
def slow_close(environ, start_response):
    """A response whose iterable's close() is slow or kills the worker."""
    q = _q(environ)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return SlowClose(q.get("tok", "sc"), q.get("close", "sleep"))


class FailThenExit:
    """Iterating raises RuntimeError("fail-then-exit-marker"), before any
    byte (?after= unset) or after a first chunk (?after=1); then close()
    raises SystemExit(2) (?how=sysexit) or KeyboardInterrupt (?how=kbd)."""

    def __init__(self, after, how):
        self.after, self.how = after, how

    def __iter__(self):
        if self.after:
            yield b"partial"
        raise RuntimeError("fail-then-exit-marker")

    def close(self):
        if self.how == "kbd":
            raise KeyboardInterrupt()
        raise SystemExit(2)


@app
def fail_then_exit(environ, start_response):
    """A response that fails while iterating and whose close() then
    raises SystemExit or KeyboardInterrupt (see FailThenExit); it notes
    its worker's pid in ?tok=."""
    q = _q(environ)
    _touch(q.get("tok", "died"), str(os.getpid()))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return FailThenExit(q.get("after"), q.get("how", "sysexit"))


@app
def bad_items(environ, start_response):
    """Yields (?how=gen) or returns in a list (?how=list) the items ?case=
    names, at least one of them not bytes (PEP 3333 requires bytes)."""
    q = _q(environ)
    items = {
        "str": ["text"],
        "empty_str": [""],
        "none": [None],
        "zero": [0],
        "empty_list": [[]],
        "none_after_data": [b"data;", None],
    }[q["case"]]
    start_response("200 OK", [("Content-Type", "text/plain")])
    if q.get("how") == "list":
        return list(items)
    return (item for item in items)


@app
def filewrap(environ, start_response):
    """Returns wsgi.file_wrapper around ?file= (in the test dir) from
    ?offset=, with ?cl= as Content-Length; ?kind=bytesio wraps a BytesIO,
    ?kind=writeonly a file open for writing only, ?kind=gzip a GzipFile
    (whose fileno() is its compressed file's), ?kind=proxy an object that
    hands read, fileno, tell and close on to the file (Django's File)."""
    q = _q(environ)
    headers = [("Content-Type", "application/octet-stream")]
    if "cl" in q:
        headers.append(("Content-Length", q["cl"]))
    if q.get("kind") == "bytesio":
        with open(_path(q["file"]), "rb") as f:
            f.seek(int(q.get("offset", "0")))
            filelike = io.BytesIO(f.read())
    elif q.get("kind") == "writeonly":
        # A mistake: a regular file, but not open for reading.
        filelike = os.fdopen(os.open(_path(q["file"]), os.O_WRONLY), "wb", buffering=0)
    elif q.get("kind") == "gzip":
        filelike = gzip.open(_path(q["file"]), "rb")
    elif q.get("kind") == "proxy":
        filelike = _FileProxy(open(_path(q["file"]), "rb"))
        filelike.seek(int(q.get("offset", "0")))
    else:
        filelike = open(_path(q["file"]), "rb")
        filelike.seek(int(q.get("offset", "0")))
    start_response("200 OK", headers)
    return environ["wsgi.file_wrapper"](filelike, 4096)


class _FileProxy:
    """Hands its methods on to a file, through properties, as Django's
    File does."""

    def __init__(self, f):
        self.file = f

    read = property(lambda self: self.file.read)
    fileno = property(lambda self: self.file.fileno)
    tell = property(lambda self: self.file.tell)
    seek = property(lambda self: self.file.seek)
    close = property(lambda self: self.file.close)


class _KeptFile:
    """A file kept open across requests: close() (which the server calls
    through wsgi.file_wrapper) leaves it open."""

    def __init__(self, f):
        self.f = f
        self.read, self.fileno, self.tell, self.seek = f.read, f.fileno, f.tell, f.seek

    def close(self):
        pass


_kept = {}
_kept_lock = threading.Lock()


@app
def filewrap_kept(environ, start_response):
    """Returns wsgi.file_wrapper around ?file=, opened once on first use and
    kept open, from its start, for every request (a cached file): a kept
    file object (?kind=object), or a dup of a kept descriptor (?kind=dup:
    a new descriptor, but the same open file description, so the same
    position)."""
    q = _q(environ)
    kind = q.get("kind", "object")
    with _kept_lock:
        if kind not in _kept:
            _kept[kind] = open(_path(q["file"]), "rb")
    kept = _kept[kind]
    if kind == "dup":
        filelike = os.fdopen(os.dup(kept.fileno()), "rb")
    else:
        filelike = _KeptFile(kept)
    filelike.seek(0)
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return environ["wsgi.file_wrapper"](filelike)


@app
def raise_before(environ, start_response):
    raise ValueError("raise-before-marker")


class UnprintableError(Exception):
    """An exception whose __str__ and __repr__ raise."""

    def __str__(self):
        raise RuntimeError("str-raises-marker")

    __repr__ = __str__


class AttrRaisingError(Exception):
    """An exception whose __getattr__ raises (a wrapper forwarding to an
    attribute it lacks): the traceback module of Python 3.11 and 3.12
    raises that error looking up __notes__ while formatting it."""

    def __getattr__(self, name):
        raise RuntimeError("getattr-raises-marker")


class _UnprintableClose:
    """A response whose close() raises an UnprintableError."""

    def __iter__(self):
        yield b"closed-body"

    def close(self):
        raise UnprintableError()


@app
def unprintable(environ, start_response):
    """Raises an UnprintableError where ?where= says: before the response
    (before), after its first chunk (after), or in the iterable's close()
    (close); or an AttrRaisingError before the response (getattr)."""
    where = _q(environ).get("where", "before")
    if where == "before":
        raise UnprintableError()
    if where == "getattr":
        raise AttrRaisingError("attr-raising-message")
    start_response("200 OK", [("Content-Type", "text/plain")])
    if where == "close":
        return _UnprintableClose()

    def gen():
        yield b"partial"
        raise UnprintableError()

    return gen()


@app
def raise_after(environ, start_response):
    def gen():
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"partial"
        raise ValueError("raise-after-marker")

    return gen()


@app
def die(environ, start_response):
    """Kills its own worker the way ?how= says (after noting its pid in ?tok=)."""
    q = _q(environ)
    _touch(q.get("tok", "died"), str(os.getpid()))
    how = q.get("how", "kill")
    if how == "kill":
        os.kill(os.getpid(), 9)
    elif how == "exit":
        os._exit(1)
    elif how == "segv":
        import ctypes

        ctypes.string_at(0)
    elif how == "sysexit":
        raise SystemExit(2)
    elif how == "sysexit-thread":
        # A thread that is not a daemon: Python's own exit waits for it.
        threading.Thread(target=threading.Event().wait, name="forever").start()
        raise SystemExit(2)
    time.sleep(5)
    return _text(start_response, "still alive")


def hang_forever_in_this_function():
    time.sleep(60)


@app
def hang(environ, start_response):
    hang_forever_in_this_function()
    return _text(start_response, "woke up")


@app
def block(environ, start_response):
    """Records ?tok= in calls, notes <tok>-started, waits for <tok>-go."""
    tok = _q(environ).get("tok", "b")
    _touch("calls", tok + "\n")
    _touch(tok + "-started")
    _wait_for(tok + "-go", 8)
    return _text(start_response, "released " + tok + " pid " + str(os.getpid()))


@app
def sleep(environ, start_response):
    time.sleep(float(_q(environ).get("s", "1")))
    return _text(start_response, str(os.getpid()))


@app
def child_sigign(environ, start_response):
    """The SigIgn mask (hex, /proc/<pid>/status) a child process of the app
    starts with: the signals it inherited as ignored."""
    status = subprocess.run(["cat", "/proc/self/status"], capture_output=True, check=True).stdout.decode()
    mask = [line.split()[1] for line in status.splitlines() if line.startswith("SigIgn:")]
    return _text(start_response, mask[0])


@app
def late_write(environ, start_response):
    """Keeps start_response's write() and calls it from a thread once the
    response has ended; records what that raised in late-write."""
    write = start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])

    def later():
        time.sleep(0.2)
        try:
            write(b"late!")
            outcome = "no error"
        except Exception as exc:
            outcome = "%s: %s" % (type(exc).__name__, exc)
        _touch("late-write.tmp", outcome)
        os.rename(_path("late-write.tmp"), _path("late-write"))  # whole when seen

    threading.Thread(target=later).start()
    return [b"early"]


_barrier = threading.Barrier(4, timeout=5)


@app
def barrier(environ, start_response):
    """Four requests must be inside the app at once."""
    idx = _barrier.wait()
    return _text(start_response, json.dumps({"multithread": environ["wsgi.multithread"],
                                             "thread": threading.current_thread().name, "idx": idx}))


_MIB = b"\xa5" * (1 << 20)


@app
def download(environ, start_response):
    """?mib= chunks of 1 MiB; ?exit_after=S: the worker exits (status 3)
    S seconds after the request began, whatever it is doing then."""
    q = _q(environ)
    n = int(q.get("mib", "1"))
    if "exit_after" in q:
        threading.Timer(float(q["exit_after"]), os._exit, (3,)).start()

    def gen():
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(n << 20))])
        for _ in range(n):
            yield _MIB

    return gen()


_PATTERN = bytes(range(251)) * 64  # byte i of a body is i % 251


@app
def pattern(environ, start_response):
    """A body whose byte i is i % 251, in chunks of the ?sizes= (comma
    separated), yielded by a generator (?how=gen), passed to write()
    (?how=write) or returned in a list (?how=list); ?types= cycles through
    bytes, bytearray and memoryview chunks (b, a, m) for write(); ?cl=1
    declares the Content-Length."""
    q = _q(environ)
    sizes = [int(x) for x in q.get("sizes", "1").split(",")]
    kinds = q.get("types", "b")
    how = q.get("how", "gen")
    total = sum(sizes)
    reps = total // len(_PATTERN) + 2
    body = _PATTERN * reps if reps > 1 else _PATTERN
    chunks, pos = [], 0
    for i, n in enumerate(sizes):
        off = pos % 251
        c = body[off : off + n] if n <= len(body) - off else (bytes(range(251)) * (n // 251 + 2))[off : off + n]
        kind = kinds[i % len(kinds)]
        if kind == "a":
            c = bytearray(c)
        elif kind == "m":
            c = memoryview(c)
        chunks.append(c)
        pos += n
    headers = [("Content-Type", "application/octet-stream")]
    if q.get("cl") == "1":
        headers.append(("Content-Length", str(total)))
    write = start_response("200 OK", headers)
    if how == "write":
        for c in chunks:
            write(c)
        return []
    if how == "list":
        return [bytes(c) for c in chunks]
    return (bytes(c) for c in chunks)


@app
def onechunk(environ, start_response):
    """?mib= MiB in a single chunk: returned in a list (?how=list), yielded
    by a generator (?how=gen) or passed to write() (?how=write)."""
    q = _q(environ)
    body = b"z" * (int(q.get("mib", "1")) << 20)
    how = q.get("how", "list")
    write = start_response("200 OK", [("Content-Type", "application/octet-stream")])
    if how == "write":
        write(body)
        return []
    if how == "gen":
        return iter([body])
    return [body]


class _Blocks:
    """An iterable that is not a list (like Flask's and Django's responses),
    whose close() records itself in one-block-closed."""

    def __init__(self, blocks):
        self._it = iter(blocks)

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._it)

    def close(self):
        _touch("one-block-closed", "closed\n")


@app
def one_block(environ, start_response):
    """A body in blocks of an iterable that is not a list. ?blocks= the
    blocks, comma-separated; ?length= the Content-Length to declare (none
    when absent); ?gen=1 calls start_response inside a generator, at the
    first block."""
    q = _q(environ)
    blocks = [b.encode() for b in q.get("blocks", "").split(",")]
    headers = [("Content-Type", "text/plain")]
    if "length" in q:
        headers.append(("Content-Length", q["length"]))
    if q.get("gen"):

        def gen():
            start_response("200 OK", headers)
            yield from blocks

        return gen()
    start_response("200 OK", headers)
    return _Blocks(blocks)


@app
def dispatch(environ, start_response):
    """Routes /<name>/... to the app <name> of this module (several
    behaviours in one container)."""
    name = environ.get("PATH_INFO", "/").strip("/").split("/")[0] or "hello"
    target = globals().get(name)
    if name not in APPS or name == "dispatch":
        return _text(start_response, "no app " + name, "404 Not Found")
    return target(environ, start_response)


for _name in APPS:
    globals()["validated_" + _name] = validator(globals()[_name])
