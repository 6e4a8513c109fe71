"""Drive real graft workers (worker.py copies: old and new builds) over their socketpairs; print each one's CPU per request.

usage: driver.py APP_SPEC APP_DIR PATH N ROUNDS worker1.py worker2.py ...
Starts one worker process per program; each round sends N requests one at
a time (REQ, then wait for the response's final frame) to each worker in
turn (the order flipped every round), and takes the worker's CPU time
from /proc/PID/schedstat (ns, user + system). Prints, per program, the
median of the rounds and the rounds, in us per request.

Run it pinned to one CPU (taskset -c 1 python3 driver.py ...): unpinned,
each worker's cost depends on whether the scheduler put it on the
driver's CPU or the other one, and two copies of the same program were
measured at 23 and 44 us per request in the same run (pinned: 23.2 and
23.2).
"""
import importlib.util, os, socket, statistics, sys

PYTHON = os.environ.get("GRAFT_PYTHON", "/usr/bin/python3")


def load_protocol(prog):
    """The worker program prog as a module, for its frame constants (HEADER,
    U32, REQ, READY, RESP, END, ERROR): the one source of truth shared with
    Go, never copied here. Its main runs only as __main__."""
    spec = importlib.util.spec_from_file_location("graft_worker", prog)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def env_block(path):
    p, _, q = path.partition("?")
    pairs = [
        "REQUEST_METHOD", "GET", "SCRIPT_NAME", "", "PATH_INFO", p, "QUERY_STRING", q,
        "REQUEST_URI", path, "RAW_URI", path, "SERVER_NAME", "127.0.0.1", "SERVER_PORT", "8080",
        "SERVER_PROTOCOL", "HTTP/1.1", "REMOTE_ADDR", "127.0.0.1", "wsgi.url_scheme", "http",
        "REMOTE_PORT", "54321", "HTTP_HOST", "127.0.0.1:8080",
        "HTTP_USER_AGENT", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
        "HTTP_ACCEPT", "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
        "HTTP_ACCEPT_LANGUAGE", "en-US,en;q=0.9,fr;q=0.8",
        "HTTP_ACCEPT_ENCODING", "gzip, deflate, br",
        "HTTP_COOKIE", "sessionid=abcdef0123456789; csrftoken=0123456789abcdef",
        "HTTP_REFERER", "https://example.com/articles/",
        "HTTP_CACHE_CONTROL", "max-age=0",
        "graft.request_id", "host/abcdef-000123",
    ]
    return "\0".join(pairs).encode("latin-1")


class W:
    """One real worker running prog, on a socketpair of its own.
    wrapper is a command put before the interpreter (valgrind, say)."""

    def __init__(self, prog, spec, appdir, path, wrapper=(), env=None):
        self.p = load_protocol(prog)
        a, b = socket.socketpair()
        pid = os.fork()
        if pid == 0:
            os.dup2(b.fileno(), 3, inheritable=True)
            null = os.open("/dev/null", os.O_WRONLY)
            os.dup2(null, 1); os.dup2(null, 2)
            argv = [*wrapper, PYTHON, prog, "worker", spec, "1", "0", "1048576", "", appdir]
            os.execve(argv[0], argv, dict(os.environ, PYTHONUNBUFFERED="1", **(env or {})))
        b.close()
        self.pid, self.sock, self.f = pid, a, a.makefile("rb", buffering=1 << 16)
        k, _, _, p = self.read_frame()
        if k != self.p.READY:
            raise SystemExit(p.decode())
        block = env_block(path)
        payload = self.p.U32.pack(len(block)) + block
        self.frame = self.p.HEADER.pack(self.p.REQ, 0, 1, len(payload)) + payload

    def read_frame(self):
        k, fl, st, ln = self.p.HEADER.unpack(self.f.read(self.p.HEADER_SIZE))
        return k, fl, st, self.f.read(ln)

    def one(self):
        self.sock.sendall(self.frame)
        while True:
            k, fl, st, p = self.read_frame()
            if k in (self.p.RESP, self.p.END):
                return p
            if k == self.p.ERROR:
                raise SystemExit(p.decode())

    def cpu(self):
        with open("/proc/%d/schedstat" % self.pid) as s:
            return int(s.read().split()[0])

    def close(self):
        self.f.close(); self.sock.close()
        os.waitpid(self.pid, 0)


def main():
    spec, appdir, path, n, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    progs = sys.argv[6:]
    ws = [W(p, spec, appdir, path) for p in progs]
    for w in ws:
        for _ in range(500):
            w.one()
    res = [[] for _ in ws]
    for r in range(rounds):
        order = range(len(ws)) if r % 2 == 0 else reversed(range(len(ws)))
        for i in order:
            w = ws[i]
            c0 = w.cpu()
            for _ in range(n):
                w.one()
            res[i].append((w.cpu() - c0) / n / 1000)
    for p, rs in zip(progs, res):
        print("%-24s median %7.2f us  [%s]" % (os.path.basename(p), statistics.median(rs), " ".join("%.2f" % x for x in rs)))
    for w in ws:
        w.close()


if __name__ == "__main__":
    main()
