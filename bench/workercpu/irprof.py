"""Instructions (callgrind Ir, deterministic where CPU time is not) of
N requests to a real worker: `callgrind_annotate OUT` or the totals:
line / N. Callgrind profile of N requests of a real worker (instrumentation on
after warm-up). usage: irprof.py APP_SPEC APP_DIR PATH N prog.py OUT"""
import os, re, socket, struct, subprocess, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from driver import env_block  # noqa: E402
HEADER = struct.Struct("<BBHI"); U32 = struct.Struct("<I")
spec, appdir, path, n, prog, out = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6]
a, b = socket.socketpair()
pid = os.fork()
if pid == 0:
    os.dup2(b.fileno(), 3, inheritable=True)
    null = os.open("/dev/null", os.O_WRONLY)
    os.dup2(null, 1); os.dup2(null, 2)
    os.execve("/usr/bin/valgrind", ["/usr/bin/valgrind", "--tool=callgrind", "--instr-atstart=no", "--callgrind-out-file=" + out,
              "/usr/bin/python3", prog, "worker", spec, "1", "0", "1048576", "", appdir],
              dict(os.environ, PYTHONUNBUFFERED="1", PYTHONHASHSEED="0"))
b.close()
f = a.makefile("rb")
def rf():
    k, fl, st, ln = HEADER.unpack(f.read(8)); return k, f.read(ln)
k, p = rf(); assert k == 16, p
block = env_block(path); payload = U32.pack(len(block)) + block
frame = HEADER.pack(1, 0, 1, len(payload)) + payload
def req(n):
    for _ in range(n):
        a.sendall(frame)
        while rf()[0] not in (18, 22): pass
req(200)
subprocess.run(["callgrind_control", "-i", "on", str(pid)], check=True, capture_output=True)
req(n)
subprocess.run(["callgrind_control", "-i", "off", str(pid)], check=True, capture_output=True)
f.close(); a.close()
os.waitpid(pid, 0)
