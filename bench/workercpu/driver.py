"""Drive real graft workers (worker.py copies: old and new builds) over their socketpairs; print each one's CPU per request.

usage: driver.py APP_SPEC APP_DIR PATH N ROUNDS worker1.py worker2.py ...
Starts one worker process per program; each round sends N requests one at
a time (REQ, then wait for the response's final frame) to each worker in
turn (the order flipped every round), and takes the worker's CPU time
from /proc/PID/schedstat (ns, user + system). Prints, per program, the
median of the rounds and the rounds, in us per request.
"""
import os, socket, statistics, struct, sys

HEADER = struct.Struct("<BBHI")
U32 = struct.Struct("<I")
REQ, READY, RESP, END, ERROR = 1, 16, 18, 22, 23


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
    def __init__(self, prog, spec, appdir, path):
        a, b = socket.socketpair()
        pid = os.fork()
        if pid == 0:
            os.dup2(b.fileno(), 3, inheritable=True)
            null = os.open("/dev/null", os.O_WRONLY)
            os.dup2(null, 1); os.dup2(null, 2)
            os.execve("/usr/bin/python3", ["/usr/bin/python3", prog, "worker", spec, "1", "0", "1048576", "", appdir],
                      dict(os.environ, PYTHONUNBUFFERED="1"))
        b.close()
        self.pid, self.sock, self.f = pid, a, a.makefile("rb", buffering=1 << 16)
        k, _, _, p = self.read_frame()
        if k != READY:
            raise SystemExit(p.decode())
        block = env_block(path)
        payload = U32.pack(len(block)) + block
        self.frame = HEADER.pack(REQ, 0, 1, len(payload)) + payload

    def read_frame(self):
        k, fl, st, ln = HEADER.unpack(self.f.read(8))
        return k, fl, st, self.f.read(ln)

    def one(self):
        self.sock.sendall(self.frame)
        while True:
            k, fl, st, p = self.read_frame()
            if k in (RESP, END):
                return p
            if k == ERROR:
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
