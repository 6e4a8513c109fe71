"""Instructions (callgrind's Ir, deterministic where CPU time is not) of N
requests to a real worker, counted after a warm-up of 200.

usage: irprof.py APP_SPEC APP_DIR PATH N prog.py OUT
then `callgrind_annotate OUT`, or its totals divided by N. Needs valgrind
(apt-get install -y valgrind).
"""
import os, shutil, subprocess, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from driver import W  # noqa: E402


def main():
    spec, appdir, path, n, prog, out = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6]
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("irprof.py: valgrind not found: apt-get install -y valgrind")
    wrapper = [valgrind, "--tool=callgrind", "--instr-atstart=no", "--callgrind-out-file=" + out]
    w = W(prog, spec, appdir, path, wrapper, {"PYTHONHASHSEED": "0"})
    for _ in range(200):
        w.one()
    subprocess.run(["callgrind_control", "-i", "on", str(w.pid)], check=True, capture_output=True)
    for _ in range(n):
        w.one()
    subprocess.run(["callgrind_control", "-i", "off", str(w.pid)], check=True, capture_output=True)
    w.close()


if __name__ == "__main__":
    main()
