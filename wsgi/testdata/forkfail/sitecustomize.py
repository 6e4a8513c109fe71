"""Makes os.fork fail as a process limit does (EAGAIN: RLIMIT_NPROC, a
cgroup's pids.max, systemd's TasksMax) while the file forkfail exists in
$GRAFT_TEST_DIR, for the test of the preload process's failed forks (put
this directory on PYTHONPATH)."""

import errno
import os

_fork = os.fork


def _failing_fork():
    if os.path.exists(os.path.join(os.environ.get("GRAFT_TEST_DIR", ""), "forkfail")):
        raise OSError(errno.EAGAIN, os.strerror(errno.EAGAIN))
    return _fork()


os.fork = _failing_fork
