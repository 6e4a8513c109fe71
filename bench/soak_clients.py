#!/usr/bin/env python3
"""Misbehaving clients for bench/soak.sh: each scenario loops in its own
thread until the deadline, at a modest rate, and counts what it sent and
what it got; the counts are printed as JSON at the end.

usage: soak_clients.py HOST PORT SECONDS [--tls] [--scenarios a,b,...]

The server is expected to serve wsgi/testdata/apps.py's `dispatch` app
(sleep, raise_before, raise_after, download, sse, body, hello) behind
examples/hybrid (native /api/users/{id}, /api/health), with -timeout 2 (so
that /sleep?s=3 times out) and -h2c (or --tls, with TLS and HTTP/2 by ALPN).
CHAOS_PIPE, CHAOS_H2 (comma-separated paths) and CHAOS_UPLOAD (a path) point
the pipelining, HTTP/2 and upload scenarios at another app's routes.
Standard library only.
"""
import json
import os
import random
import socket
import ssl
import struct
import sys
import threading
import time
import weakref

HOST, PORT, SECONDS = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
TLS = "--tls" in sys.argv
ONLY = None
for i, a in enumerate(sys.argv):
    if a == "--scenarios":
        ONLY = set(sys.argv[i + 1].split(","))
DEADLINE = time.monotonic() + SECONDS
counts = {}
lock = threading.Lock()
READERS = weakref.WeakKeyDictionary()
OPEN = threading.local()


def count(name, what="sent"):
    with lock:
        counts.setdefault(name, {}).setdefault(what, 0)
        counts[name][what] += 1


def conn(alpn=None):
    """A connection (TLS with ALPN alpn under --tls), closed after the round."""
    s = socket.create_connection((HOST, PORT), timeout=15)
    if TLS:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols([alpn or "http/1.1"])
        s = ctx.wrap_socket(s, server_hostname="localhost")
    OPEN.__dict__.setdefault("socks", []).append(s)
    return s


def head(method, path, extra=""):
    return ("%s %s HTTP/1.1\r\nHost: x\r\n%s\r\n" % (method, path, extra)).encode()


def read_some(s, n):
    got = 0
    while got < n:
        b = s.recv(min(65536, n - got))
        if not b:
            break
        got += len(b)
    return got


def shut(s):
    """Closes a socket and its buffered reader (which would keep it open)."""
    f = READERS.pop(s, None)
    if f is not None:
        f.close()
    s.close()


def read_response(s):
    """Reads one response with a Content-Length (or until close); the
    socket's buffered reader keeps what follows for the next call."""
    f = READERS.get(s)
    if f is None:
        f = READERS[s] = s.makefile("rb")
    line = f.readline()
    if not line:
        return None
    status = int(line.split(b" ", 2)[1])
    cl = None
    while True:
        h = f.readline()
        if h in (b"\r\n", b""):
            break
        k, _, v = h.partition(b":")
        if k.strip().lower() == b"content-length":
            cl = int(v.strip())
    body = f.read(cl) if cl is not None else f.read()
    return status, body


def scenario(fn):
    """Runs fn until the deadline; an OSError or ValueError is counted, and
    the sockets fn opened are closed after each round whatever happened."""

    def loop():
        name = fn.__name__
        while time.monotonic() < DEADLINE:
            try:
                fn(name)
            except (OSError, ValueError) as e:
                count(name, "error:" + type(e).__name__)
            for s in OPEN.__dict__.pop("socks", []):
                shut(s)
        return

    loop.__name__ = fn.__name__
    return loop


@scenario
def abort_mid_request_head(name):
    """Half a request head, then the client leaves."""
    s = conn()
    s.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\nX-A: ")
    count(name)
    time.sleep(0.2)
    shut(s)
    time.sleep(0.3)


@scenario
def abort_mid_upload(name):
    """A 1 MiB upload (spooled) cut after 300 KiB; and a small one cut after 10 bytes."""
    s = conn()
    big = random.random() < 0.5
    size = (1 << 20) if big else 4000
    s.sendall(head("POST", os.environ.get("CHAOS_UPLOAD", "/body?mode=hash"), "Content-Length: %d\r\n" % size))
    s.sendall(b"u" * ((300 << 10) if big else 10))
    count(name)
    time.sleep(0.1)
    shut(s)
    time.sleep(0.3)


@scenario
def full_upload(name):
    s = conn()
    size = random.choice([1000, 100 << 10, 2 << 20])
    s.sendall(head("POST", os.environ.get("CHAOS_UPLOAD", "/body?mode=hash"), "Content-Length: %d\r\n" % size) + b"v" * size)
    r = read_response(s)
    count(name, "status:%s" % (r and r[0]))
    shut(s)
    time.sleep(0.3)


@scenario
def abort_mid_download(name):
    """8 MiB download: read 100 KiB, close; or read slowly for a while (spill), close."""
    s = conn()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    s.sendall(head("GET", "/download?mib=8"))
    count(name)
    if random.random() < 0.5:
        read_some(s, 100 << 10)
    else:
        for _ in range(10):
            read_some(s, 16 << 10)
            time.sleep(0.1)
    shut(s)
    time.sleep(0.3)


@scenario
def abort_mid_stream(name):
    """A server-sent-events response left after its first bytes."""
    s = conn()
    s.sendall(head("GET", "/sse?n=40&gap=0.05"))
    count(name)
    read_some(s, 200)
    shut(s)
    time.sleep(0.3)


@scenario
def slowloris_head(name):
    """Trickles a header a byte every 0.5 s; closes after 3 s or lets the
    read-header timeout (10 s) end it."""
    s = conn()
    s.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\n")
    count(name)
    end = time.monotonic() + random.choice([3, 12])
    try:
        while time.monotonic() < end:
            s.sendall(b"X")
            time.sleep(0.5)
    except OSError:
        count(name, "cut by server")
    shut(s)


@scenario
def slowloris_body(name):
    """Sends a body slowly: a few bytes then stalls (past -body-timeout, 408)
    or trickles and then closes."""
    s = conn()
    s.sendall(head("POST", os.environ.get("CHAOS_UPLOAD", "/body?mode=hash"), "Content-Length: 100000\r\n"))
    s.sendall(b"a" * 10)
    count(name)
    if random.random() < 0.5:
        s.settimeout(20)
        try:
            r = read_response(s)
            count(name, "status:%s" % (r and r[0]))
        except OSError as e:
            count(name, "error:" + type(e).__name__)
    else:
        for _ in range(6):
            s.sendall(b"b" * 5)
            time.sleep(0.5)
    shut(s)


@scenario
def pipelined(name):
    """12 pipelined requests (native, Python, failing); sometimes the client
    leaves after 3 answers."""
    s = conn()
    paths = os.environ.get("CHAOS_PIPE", "/hello,/api/users/7,/raise_before,/hello,/api/health,/sleep?s=0.01").split(",") * 2
    s.sendall(b"".join(head("GET", p) for p in paths))
    count(name)
    cut = random.random() < 0.3
    n = 0
    for _ in paths:
        r = read_response(s)
        if r is None:
            break
        n += 1
        count(name, "status:%s" % r[0])
        if cut and n == 3:
            break
    shut(s)
    time.sleep(0.2)


@scenario
def timeouts(name):
    """/sleep?s=3 past -timeout 2: 504, worker replaced; sometimes the client leaves first."""
    s = conn()
    s.sendall(head("GET", "/sleep?s=3"))
    count(name)
    if random.random() < 0.3:
        time.sleep(0.5)
        shut(s)
        return
    r = read_response(s)
    count(name, "status:%s" % (r and r[0]))
    shut(s)
    time.sleep(1)


@scenario
def exceptions(name):
    """A view that raises before its response, one that raises mid-body."""
    s = conn()
    for p in ["/raise_before", "/raise_after"]:
        s.sendall(head("GET", p))
        count(name)
        if p == "/raise_before":
            r = read_response(s)
            count(name, "status:%s" % (r and r[0]))
        else:
            # raise_after streams "partial" then fails: the connection is cut
            s.settimeout(5)
            while True:
                b = s.recv(65536)
                if not b:
                    break
    shut(s)
    time.sleep(0.3)


# --- HTTP/2 (h2c prior knowledge, or TLS with ALPN h2) -----------------------

def h2frame(typ, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([typ, flags]) + struct.pack(">I", sid) + payload


def hpack_lit(idx, value):
    v = value.encode()
    return bytes([idx]) + bytes([len(v)]) + v  # literal without indexing, indexed name (idx < 16)


def h2_headers(path, method="GET"):
    m = b"\x82" if method == "GET" else b"\x83"
    sch = b"\x87" if TLS else b"\x86"
    return m + sch + hpack_lit(4, path) + hpack_lit(1, "localhost")


def h2_read_frames(s, want_data_on, limit=2.0):
    """Reads frames until a DATA or HEADERS frame on one of want_data_on."""
    s.settimeout(limit)
    buf = b""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        try:
            b = s.recv(65536)
        except socket.timeout:
            return False
        if not b:
            return False
        buf += b
        while len(buf) >= 9:
            ln = int.from_bytes(buf[:3], "big")
            if len(buf) < 9 + ln:
                break
            typ, flags, sid = buf[3], buf[4], int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
            if typ == 4 and not flags & 1:
                s.sendall(h2frame(4, 1, 0))  # ack SETTINGS
            if typ in (0, 1) and sid in want_data_on:
                return True
            buf = buf[9 + ln:]
    return False


@scenario
def h2_reset(name):
    """HTTP/2: six streams (a stream, a download, a slow view, quick ones, an
    upload cut mid-body), four reset once data flows; sometimes GOAWAY."""
    s = conn("h2")
    s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + h2frame(4, 0, 0))
    paths = os.environ.get("CHAOS_H2", "/sse?n=40&gap=0.05,/download?mib=8,/sleep?s=1,/hello,/api/users/3").split(",")
    sids = []
    for i, p in enumerate(paths):
        sid = 2 * i + 1
        s.sendall(h2frame(1, 0x4 | 0x1, sid, h2_headers(p)))  # END_HEADERS|END_STREAM
        sids.append(sid)
        count(name)
    # an upload whose stream is reset mid-body
    sid = 2 * len(paths) + 1
    s.sendall(h2frame(1, 0x4, sid, h2_headers(os.environ.get("CHAOS_UPLOAD", "/body?mode=hash"), "POST")))
    s.sendall(h2frame(0, 0, sid, b"x" * 16000))
    count(name)
    h2_read_frames(s, set(sids[:2]))
    for sid in [1, 3, 5, sid]:
        s.sendall(h2frame(3, 0, sid, struct.pack(">I", 8)))  # RST_STREAM CANCEL
    time.sleep(0.2)
    if random.random() < 0.5:
        s.sendall(h2frame(7, 0, 0, struct.pack(">II", 0, 0)))  # GOAWAY
    shut(s)
    time.sleep(0.3)


SCENARIOS = [abort_mid_request_head, abort_mid_upload, full_upload, abort_mid_download, abort_mid_stream,
             slowloris_head, slowloris_head, slowloris_body, pipelined, timeouts, exceptions, h2_reset]


def main():
    """Runs every scenario (or --scenarios) at once; prints the counts."""
    ts = []
    for fn in SCENARIOS:
        if ONLY and fn.__name__ not in ONLY:
            continue
        t = threading.Thread(target=fn, name=fn.__name__, daemon=True)
        t.start()
        ts.append(t)
    for t in ts:
        t.join(SECONDS + 40)
    print(json.dumps(counts, indent=1, sort_keys=True))


main()
