"""graft's WSGI worker program.

The Go process starts this program once per worker with the configured
interpreter, embedded in the Go binary. It imports the WSGI application and
then serves requests that Go sends over a socketpair inherited as file
descriptor 3. Go owns HTTP: this program never sees a socket to a client, it
only speaks graft's framing with its parent.

Framing (all integers little endian), one 8-byte header per frame:

    u8 type | u8 flags | u16 stream | u32 length   then `length` payload bytes

Go -> worker: REQ (environ block, then the inline body or a spooled body's
file descriptor passed with SCM_RIGHTS), CANCEL (client went away).
Worker -> Go: READY, FAIL (app did not load), RESP (status, headers and the
whole body: the fast path), HEAD / DATA / FILE / END (streamed responses),
ERROR (app raised before headers were sent), LOG (a `logging` record),
HINTS (wsgi.early_hints: headers for a 103 Early Hints before the response),
STDIO (what Python code wrote to sys.stdout or sys.stderr: one write).
Go also sends CALL (a control call: the app's route map, an identity hook)
outside of any request; the worker answers CALL_RESULT, a JSON object (see
the "Control calls" section).
In preload mode the first process is a zygote: Go sends it FORK (with the
new worker's descriptors), it answers FORKED (the pid, with a pidfd of the
worker where Linux has them) and EXITED (a child's exit status).

The worker exits when its socket reaches EOF, i.e. when Go goes away.
"""

import array
import atexit
import collections
import faulthandler
import io
import itertools
import logging
import mmap
import os
import queue
import re
import select
import signal
import socket
import stat
import struct
import sys
import threading
import traceback
from time import monotonic

# Protocol constants. wire.go has the same ones (frameReq is REQ, flagBodyFD
# is F_BODY_FD, maxFrame is MAX_FRAME); TestProtocolConstants parses both
# files and fails unless they agree, name for name and value for value.
# Frame types, Go to worker:
REQ = 1  # environ block + inline body (or a body fd)
CANCEL = 2  # the client went away: stop iterating
FORK = 3  # to the zygote: fork a worker on the attached fds
CALL = 4  # a control call (route map, identity): environ block | name \0 argument
START_MAP = 5  # threads > 1: u32 size, the started map's descriptor attached (see Worker.serve_threaded)
CONTROL = 6  # prefetch on: the worker's end of its control socket attached (see Worker.watch_withdrawals)
WITHDRAW = 7  # on the control socket: u64 sequence numbers of requests Go would send elsewhere
# Frame types, worker to Go:
READY = 16  # the app is imported: pid \0 version \0 executable
FAIL = 17  # the app could not be imported: traceback
RESP = 18  # u32 head length | head | whole body
HEAD = 19  # head of a streamed response
DATA = 20  # a body chunk of a streamed response
FILE = 21  # u64 offset | i64 count, a file descriptor attached
END = 22  # end of a streamed response (flags: abort, cancelled)
ERROR = 23  # the app raised before sending headers: traceback
LOG = 24  # a logging record: levelno \0 logger \0 message (F_REQUEST_ID: request id \0 first; stream: thread_key)
FORKED = 25  # from the zygote: u32 pid of the forked worker
EXITED = 26  # from the zygote: pid \0 how a worker ended
CALL_RESULT = 27  # the control call's JSON result
HINTS = 28  # wsgi.early_hints: name \0 value \0 ... for a 103 Early Hints
WITHDRAWN = 32  # answers WITHDRAW: u64 sequence numbers of the requests this worker will skip
STDIO = 29  # what Python code wrote to sys.stdout or sys.stderr: one write's bytes (F_REQUEST_ID: id \0 first; stream: thread_key)
# Frame flags:
F_BODY_FD = 1  # REQ: the body is a file descriptor that rides with the frame
F_ENV_LP = 2  # REQ: the environ block is length-prefixed (a value contains NUL)
F_SIZED = 1  # HEAD: the body's length (u64) precedes the head block
F_ABORT = 1  # END: the response failed after headers were sent; abort it
F_CANCELLED = 2  # END: the response was cut short after a CANCEL
F_PID_FD = 1  # FORKED: a pidfd of the worker rides with the frame
F_REQUEST_ID = 1  # LOG, STDIO: made serving a request: the payload starts with its id \0
# A record on the output pipe (GoLogHandler where the socket is not this
# process's): one line, PIPE_RECORD levelno PIPE_RECORD_SEP logger
# PIPE_RECORD_SEP message, with backslash, CR and LF escaped (\\ \\r \\n).
PIPE_RECORD = 30  # the byte (ASCII RS) that begins such a line, which no plain print does
PIPE_RECORD_SEP = 31  # the byte (ASCII US) after its level and after its logger

MAX_FRAME = 1073741824  # the largest payload of a frame
HEADER_SIZE = 8  # u8 type | u8 flags | u16 stream | u32 payload length

# Payloads from this size on are sent without copying them behind their
# frame header (Conn.send).
GATHER = 16384

# A single-threaded worker streaming a response looks at its socket for a
# CANCEL at most this often (seconds), not with a poll after each block
# (as many system calls as the blocks' sends). A block sent this long or
# more after the last look is followed by one; a burst of small blocks is
# cut short within this interval of the CANCEL.
CANCEL_LOOK_INTERVAL = 0.001

HEADER = struct.Struct("<BBHI")
assert HEADER.size == HEADER_SIZE
U32 = struct.Struct("<I")
U64 = struct.Struct("<Q")
FILE_RANGE = struct.Struct("<Qq")

# Hop-by-hop headers an app must not set (PEP 3333, "Other HTTP Features").
HOP_BY_HOP = frozenset(
    (
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    )
)
# A header name (RFC 9110 token), and the control characters not allowed in
# a status line or header value (tab is allowed).
is_token = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+").fullmatch
has_control = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]").search


class Cancelled(Exception):
    """Raised inside the response loop when Go says the client went away."""


class ForkedChild(BaseException):
    """Raised in a child process the app forked when it tries to speak to
    Go: the socket is its parent's (Conn.detach). A BaseException, so that
    the app's `except Exception` does not swallow it; exit_for ends the
    child."""


class Conn:
    """The socket to Go: a buffered frame reader and a locked frame writer.

    Every read is a recvmsg with room for file descriptors: Go passes spooled
    request bodies with SCM_RIGHTS, and a plain recv would make the kernel
    drop them. Received descriptors queue up in arrival order; the REQ frame
    that carries one (flag F_BODY_FD) takes the oldest.
    """

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray(1 << 16)
        self.start = 0
        self.end = 0
        self.fds = []
        # Reentrant only so that in_send can ask who holds it: no send
        # ever nests in another (see in_send).
        self.lock = threading.RLock()
        self.cmsg_space = socket.CMSG_SPACE(4 * 4)
        self.poller = None
        self.forked = False  # True in a child process the app forked (detach)
        self.control = None  # the control socket (prefetch on: Worker.watch_withdrawals)

    def _fill(self):
        """Read more bytes; return False on EOF."""
        buf = self.buf
        if self.start == self.end:
            self.start = self.end = 0
        elif self.end == len(buf):
            # Move the partial frame to the front (or grow for a big one).
            live = self.end - self.start
            if self.start == 0:
                buf.extend(bytes(len(buf)))
            else:
                buf[:live] = buf[self.start : self.end]
                self.start, self.end = 0, live
        view = memoryview(buf)[self.end :]
        n, anc, _flags, _addr = self.sock.recvmsg_into([view], self.cmsg_space, RECV_FLAGS)
        view.release()
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds = array.array("i")
                fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
                self.fds.extend(fds)
        if n == 0:
            return False
        self.end += n
        return True

    def read_frame(self):
        """Return (type, flags, stream, payload, fd), or None on EOF.

        fd is the descriptor a REQ frame with F_BODY_FD carries, else -1.
        """
        while self.end - self.start < HEADER_SIZE:
            if not self._fill():
                return None
        kind, flags, stream, length = HEADER.unpack_from(self.buf, self.start)
        if length > MAX_FRAME:
            raise ValueError("graft: frame too large: %d bytes" % length)
        need = HEADER_SIZE + length
        if len(self.buf) < need:
            self.buf.extend(bytes(need - len(self.buf)))
        while self.end - self.start < need:
            if not self._fill():
                return None
        payload = bytes(self.buf[self.start + HEADER_SIZE : self.start + need])
        self.start += need
        fd = -1
        if kind == REQ and flags & F_BODY_FD or kind == START_MAP or kind == CONTROL:
            fd = self.fds.pop(0)
        return kind, flags, stream, payload, fd

    def pending(self):
        """True when a frame (or part of one) is waiting to be read."""
        if self.end > self.start:
            return True
        if self.poller is None:
            self.poller = select.poll()  # poll, not select: any fd number works
            self.poller.register(self.sock, select.POLLIN)
        return bool(self.poller.poll(0))

    def in_send(self):
        """True when this thread is in the middle of a send: a Python
        signal handler of the app runs in the main thread between two
        bytecodes, possibly inside sendall with the lock held, and a print
        or a log record it sends would wait for that lock forever (or, were
        it let through, cut the frame being sent in two). Such output goes
        to the output pipe instead (StdioRaw, GoLogHandler)."""
        return self.lock._is_owned()

    def send(self, kind, stream, payload=b"", flags=0):
        head = HEADER.pack(kind, flags, stream, len(payload))
        if len(payload) < GATHER:
            data = head + payload
            with self.lock:
                self.sock.sendall(data)
            return
        # A large payload (a body chunk) is not copied behind its header:
        # both go in one sendmsg, gathered by the kernel.
        with self.lock:
            n = self.sock.sendmsg([head, payload])
            if n < len(head):
                self.sock.sendall(head[n:])
                n = len(head)
            if n < len(head) + len(payload):
                self.sock.sendall(memoryview(payload)[n - len(head) :])

    def send_fd(self, kind, stream, payload, fd, flags=0):
        data = HEADER.pack(kind, flags, stream, len(payload)) + payload
        with self.lock:
            socket.send_fds(self.sock, [data], [fd])

    def detach(self):
        """Make this process's copy of the socket unusable: it runs in a
        child process the app forked (os.fork, multiprocessing), which got
        the worker's socket with the rest of its memory. A frame it sent
        would land in the stream of its parent's responses (an ERROR for
        the request being served, a RESP in its stead, or bytes cut into
        a frame the parent is sending), and a frame it read would be a
        request taken from its parent. Its copy of the descriptor is
        closed, so that a child that outlives the worker does not hold the
        socket open, and every read or send raises ForkedChild. The
        methods are replaced on this object alone: the worker itself pays
        nothing for the check."""
        self.forked = True
        self.send = self.send_fd = self.read_frame = self.pending = self._refuse
        for sock in (self.sock, self.control):
            try:
                if sock is not None:
                    sock.close()
            except OSError:
                pass

    def _refuse(self, *args, **kwargs):
        raise ForkedChild("graft: process %d, forked by the app, cannot use its parent's socket to Go" % os.getpid())


def go_socket(fd):
    """The socket to Go on descriptor fd, made close-on-exec: a program
    the app runs (os.system, subprocess with close_fds=False) does not
    hold the worker's socket open. The descriptors Go passes on it are
    received close-on-exec too (RECV_FLAGS), where the system can
    (MSG_CMSG_CLOEXEC: not macOS)."""
    os.set_inheritable(fd, False)
    return socket.socket(fileno=fd)


RECV_FLAGS = getattr(socket, "MSG_CMSG_CLOEXEC", 0)


class FileWrapper:
    """wsgi.file_wrapper: iterates a file-like in blocks (PEP 3333).

    When the app returns one of these around a real file, the worker does not
    read the file: it passes the descriptor to Go, which sends it with
    sendfile, and the worker is free at once.
    """

    def __init__(self, filelike, block_size=8192):
        self.filelike = filelike
        self.block_size = block_size
        if hasattr(filelike, "close"):
            self.close = filelike.close

    def __iter__(self):
        read, size = self.filelike.read, self.block_size
        while True:
            data = read(size)
            if not data:
                return
            yield data

    def real_file(self):
        """Return (fd, offset, size) if the wrapped object is a regular
        file whose read() returns the file's bytes: its read must be a
        binary file's own (see file_reader), so that a GzipFile, whose
        fileno() is its compressed file's, or any file-like that changes
        what it reads, is iterated as PEP 3333 says (iter(read, b''))
        rather than sent as the bytes on disk."""
        f = file_reader(self.filelike)
        if f is None:
            return None
        try:
            fd = f.fileno()
            st = os.fstat(fd)
        except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
            return None
        if not stat.S_ISREG(st.st_mode) or st.st_size == 0:
            # A size of 0 may be a lie (/proc files): iterating finds out.
            return None
        try:
            # Honour the Python-level position (buffered reads move it).
            offset = f.tell()
        except (AttributeError, OSError, ValueError):
            offset = os.lseek(fd, 0, os.SEEK_CUR)
        if type(f) is io.TextIOWrapper and not 0 <= offset <= st.st_size:
            return None  # an opaque tell() cookie (a stateful decoder): no byte offset
        return fd, offset, max(st.st_size - offset, 0)


# The read() of files whose bytes are their descriptor's: open()'s binary
# files, buffered or not, and its text files (whose bytes are sent as
# they are on disk, as graft always did, rather than the str they read,
# which iterating would refuse).
FILE_READS = (io.BufferedReader.read, io.BufferedRandom.read, io.FileIO.read, io.TextIOWrapper.read)


def file_reader(filelike):
    """The file object whose own read() is filelike.read: filelike
    itself, or the file a proxy hands read on to (Django's File,
    tempfile's wrapper, an app's class that copies f.read), found through
    the bound method's __self__; None when read is anything else (a
    GzipFile's, an override in a subclass, an app's own function)."""
    try:
        read = filelike.read
    except Exception:
        return None
    for _ in range(8):  # functools.wraps wrappers (tempfile's)
        inner = getattr(read, "__wrapped__", None)
        if inner is None:
            break
        read = inner
    f = getattr(read, "__self__", None)
    if f is None or getattr(read, "__name__", None) != "read" or getattr(type(f), "read", None) not in FILE_READS:
        return None
    return f


class ErrorStream:
    """wsgi.errors: text written here reaches Go's logger, tagged with the worker.

    Each request gets its own stream, so that the partial lines of requests
    running on other threads never mix with its own.

    The text is logged as a record of the "wsgi.errors" logger. A handler
    of the app's may write that record back here: Flask's documented
    logging setup puts on the root logger a handler that writes to
    flask.logging.wsgi_errors_stream, which is wsgi.errors while a request
    is served. Logged again, it would recurse until RecursionError (which
    StreamHandler raises: the app's logging call fails). What a thread
    writes here while it logs this stream's text is dropped (the record,
    formatted once more), and the text goes to sys.stderr instead, once,
    as the app's handler wrote it, as gunicorn's wsgi.errors writes to its
    error log.
    """

    # Class defaults, so that a request whose app never writes here pays
    # nothing for them.
    _sender = None  # the thread logging this stream's text
    _looped = False  # a handler of that record wrote here

    def __init__(self, logger):
        self._log = logger
        self._buf = ""

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError("wsgi.errors.write() takes str, not %s" % type(s).__name__)
        if self._sender == threading.get_ident():
            self._looped = True
            return len(s)
        self._buf += s
        if "\n" in self._buf:
            lines, _, self._buf = self._buf.rpartition("\n")
            self._send(lines)
        return len(s)

    def writelines(self, seq):
        for s in seq:
            self.write(s)

    def flush(self):
        if self._buf:
            text, self._buf = self._buf, ""
            self._send(text)

    def _send(self, text):
        self._sender, self._looped = threading.get_ident(), False
        try:
            self._log.error("%s", text)
        finally:
            self._sender = None
        if self._looped:
            sys.stderr.write(text + "\n")


class StdioRaw(io.RawIOBase):
    """The raw stream under sys.stdout and sys.stderr: each write goes to Go
    as a STDIO frame on the socket that carries the LOG frames of `logging`
    records (with the request's id, flag F_REQUEST_ID, when a thread
    serving a request writes it, see Serving), so that Go logs prints and
    records in the order they were made
    (through the output pipe, which Go reads apart from the socket, a print
    could pass a record logged before it), and a write of several lines as
    one record (the pipe does not keep one write apart from the next).

    fileno() is still the descriptor (1 or 2), and writes go there, to the
    output pipe Go also reads, where the socket is not this process's to
    use: in a child process the app forked (conn is None there, see
    install_stdio), once Go has closed it (the worker is leaving: its
    atexit hooks may still print), or in a signal handler that interrupted
    a send of this thread (Conn.in_send). C code, child processes and
    faulthandler write to the descriptor as before.
    """

    def __init__(self, fd, conn):
        super().__init__()
        self.fd = fd
        self.conn = conn

    def writable(self):
        return True

    def fileno(self):
        return self.fd

    def isatty(self):
        return False

    @property
    def name(self):
        return "<stdout>" if self.fd == 1 else "<stderr>"

    def write(self, b):
        data = bytes(b)
        conn = self.conn
        if conn is not None and not conn.in_send():
            env = serving.env
            rid = request_id(env) if env is not None else b""
            key = serving.key or thread_key()
            try:
                # In pieces of at most STDIO_PIECE: Go gathers them into
                # whole lines (each thread's apart: key), and cuts a longer
                # line at that size anyway. Written by a thread serving a
                # request: with its id.
                for i in range(0, len(data), STDIO_PIECE):
                    if rid:
                        conn.send(STDIO, key, rid + b"\0" + data[i : i + STDIO_PIECE], flags=F_REQUEST_ID)
                    else:
                        conn.send(STDIO, key, data[i : i + STDIO_PIECE])
                return len(data)
            except OSError:
                self.conn = None  # Go closed the socket: the pipe still reaches it
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view) :]
        return len(data)


STDIO_PIECE = 65536


def install_stdio(conn):
    """Make sys.stdout and sys.stderr write through StdioRaw on conn, with
    the encodings and error handlers they had, each write passed on at once
    (as PYTHONUNBUFFERED, which the worker runs with, had them). Returns the
    two raw streams: the zygote points them at each worker's socket."""
    raws = []
    for name, fd in (("stdout", 1), ("stderr", 2)):
        old = getattr(sys, name)
        raw = StdioRaw(fd, conn)
        enc = getattr(old, "encoding", None) or "utf-8"
        errs = getattr(old, "errors", None) or "backslashreplace"
        setattr(sys, name, io.TextIOWrapper(raw, encoding=enc, errors=errs, write_through=True))
        raws.append(raw)
    return raws


def whole_tracebacks():
    """Make traceback.print_exception (print_exc's, print_last's) and
    threading.excepthook (a thread's uncaught exception, unless the app
    sets its own) write a traceback, its chain and all, in one write
    instead of a write per line: Go logs a traceback that ends with the write that began it at
    once (a chained exception's next part cannot follow), where one
    written in pieces waits for its next line or 100 ms of quiet. The
    file is the one the caller named (sys.stderr by default), written
    once with what the original would have written there."""
    original = traceback.print_exception

    def print_exception(*args, **kwargs):
        buf = io.StringIO()
        if len(args) > 4:  # file is the fifth parameter in every version
            file, args = args[4], args[:4] + (buf,) + args[5:]
        else:
            file, kwargs["file"] = kwargs.get("file"), buf
        if file is None:
            file = sys.stderr
        original(*args, **kwargs)
        if file is not None:
            file.write(buf.getvalue())

    print_exception.__doc__ = original.__doc__
    traceback.print_exception = print_exception

    if threading.excepthook is threading.__excepthook__:
        # A thread's uncaught exception: Python's hook (C) writes its
        # "Exception in thread" line and traceback a piece at a time.
        # This one writes what it writes, at once.
        def excepthook(args):
            if args.exc_type is SystemExit:
                return  # as Python's: a thread's sys.exit() is silent
            file = sys.stderr
            if file is None and args.thread is not None:
                file = args.thread._stderr
            if file is None:
                return
            name = args.thread.name if args.thread is not None else threading.get_ident()
            lines = traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback)
            file.write("Exception in thread %s:\n%s" % (name, "".join(lines)))
            file.flush()

        threading.excepthook = excepthook


class ChildGuard:
    """Makes sure a child process the app forks never speaks graft's
    protocol (os.fork, multiprocessing's 'fork' start method, a library
    that daemonizes; a subprocess's fork-and-exec runs no Python and is
    covered by the socket being close-on-exec, see go_socket).

    fork() gives the child the worker's memory and descriptors: the
    socket to Go, and the objects that send on it (sys.stdout and
    sys.stderr through StdioRaw, logging through GoLogHandler). In the
    child, after fork, before any of the app's own at-fork hooks:

      - prints, logging records and wsgi.errors go to the descriptors of
        stdout and stderr, the output pipe that Go reads beside the socket
        and logs (graft.stream=stdio) with the worker's pid, as a
        gunicorn worker's child writes to the stderr it inherited;
      - the socket is closed in the child and its Conn refuses to read or
        send (Conn.detach): what would send a frame (the child returning
        from the app, or leaving it with an exception or sys.exit, which
        Worker.handle would answer with ERROR) raises ForkedChild, and the
        child then exits as a Python program would (exit_for): sys.exit's
        status, atexit hooks run and print to the pipe, an exception's
        traceback on stderr;
      - SIGINT and SIGTERM, which the worker drops (see main), get their
        default handlers back, unless the app installed its own: a child
        is not a worker that Go drains, and multiprocessing's terminate()
        sends SIGTERM. The two signals are blocked in the forking thread
        from the last hook before fork() until this reset, so that one
        sent to the child in between (a loaded machine can stretch that
        past multiprocessing's terminate()) waits for the default
        handler instead of being dropped by the worker's, or cleared by
        Python's own after-fork cleanup. A child forked without the hooks
        (a C extension calling fork()) keeps the worker's handler:
        drop_signal sees it is not the process that owns the signals and
        acts as the default would.

    The zygote forks its workers with os.fork() too: this runs in them
    (with worker_fork set, which keeps the signals dropped), and the
    zygote then points the handler and streams at the worker's own socket
    (speak_on).
    """

    def __init__(self, log_handler, stdio):
        self.log_handler = log_handler
        self.stdio = stdio
        self.worker_fork = False  # the zygote is forking a worker, not the app a child
        self.owner = os.getpid()  # the process that drops SIGINT and SIGTERM: the worker, or the zygote
        self.masks = threading.local()  # each forking thread's signal mask before fork
        # Registered before the app is imported: it runs before the app's
        # own after_in_child hooks, whose prints and records then go to
        # the pipe too (and its before hook last, right before fork()).
        os.register_at_fork(before=self.before_fork, after_in_parent=self.unblock, after_in_child=self.forked)

    def before_fork(self):
        self.masks.old = signal.pthread_sigmask(signal.SIG_BLOCK, DROPPED_SIGNALS)

    def unblock(self):
        signal.pthread_sigmask(signal.SIG_SETMASK, self.masks.old)

    def forked(self):
        try:
            self.child_of_fork()
        finally:
            self.unblock()  # a SIGTERM sent meanwhile is delivered now, to the child's handler

    def child_of_fork(self):
        conn = self.log_handler.conn  # the socket this process speaks on
        self.speak_on(None)
        if conn is not None:
            conn.detach()
        if self.worker_fork:
            self.owner = os.getpid()  # before worker_fork is reset: see drop_signal
            self.worker_fork = False  # the worker's own children are the app's
            return
        for sig in DROPPED_SIGNALS:
            if signal.getsignal(sig) == self.drop_signal:
                signal.signal(sig, DROPPED_SIGNALS[sig])

    def drop_signal(self, signum, frame):
        """The handler of the signals a worker drops (see main). In a
        process the app forked without the at-fork hooks (which reset it),
        it puts the default handler back and acts as that would: SIGTERM
        ends the child, SIGINT raises KeyboardInterrupt. A worker the
        zygote is forking (worker_fork still set) keeps dropping it."""
        if self.worker_fork or os.getpid() == self.owner:
            return
        default = DROPPED_SIGNALS[signum]
        signal.signal(signum, default)
        if default is signal.default_int_handler:
            default(signum, frame)
        os.kill(os.getpid(), signum)

    def speak_on(self, conn):
        """Send logging records and prints on conn (None: to the output
        pipe). Wherever the app's logging setup left graft's handler
        (nowhere, if it replaced the root logger's handlers), as a worker
        that imported the app itself has it."""
        self.log_handler.conn = conn
        for raw in self.stdio:
            raw.conn = conn


class Serving(threading.local):
    """The request each thread is serving: Worker.handle sets env, the
    request's environ, around the app's call and clears it after, which
    is all a request pays when the app logs nothing. GoLogHandler looks
    the request's id up in it when a record is logged.

    key is the thread's key (thread_key), 0 until the thread first
    prints or logs."""

    env = None
    key = 0


serving = Serving()
_thread_keys = itertools.count()


def thread_key():
    """This thread's key, given at its first print or record: the stream
    field of its STDIO and LOG frames, by which Go gathers each thread's
    writes apart (print writes its text, then the newline: two threads'
    prints would come out as one line and an empty one). 1 to 65535, so
    that only two threads that print among 65535 others given a key
    between them share one; 0 is a worker's that does not say."""
    key = serving.key = next(_thread_keys) % 65535 + 1
    return key


def request_id(env):
    """The id Go's own log lines give the request of environ env (wsgi's
    requestID), as the bytes Go has: graft.request_id, which
    middleware.RequestID sets, else the X-Request-Id header (both reach
    the environ as latin-1); b"" for none. A NUL, which would end it in a
    LOG frame, is replaced."""
    rid = env.get("graft.request_id") or env.get("HTTP_X_REQUEST_ID")
    if not rid:
        return b""
    if not isinstance(rid, str):
        rid = str(rid)  # the app's own value
    try:
        b = rid.encode("latin-1")
    except UnicodeEncodeError:  # the app's own value
        b = rid.encode("utf-8", "replace")
    return b.replace(b"\0", b"?")


def install_record_ids():
    """Give every `logging` record a request_id attribute, for the app's
    formatters ("%(request_id)s", "{request_id}", a JSON formatter's
    fields): the id of the request its thread serves (request_id's, as
    text), "-" outside of one, as gunicorn users get it with a filter of
    their own.

    A record factory on top of the one in place (an app's factory set
    later on top of this one, as the logging docs show, runs too; one
    that does not call the factory it replaces drops the attribute), and
    Logger.makeRecord let a record's own request_id through: with the
    factory alone, logger.info(..., extra={"request_id": ...}), what apps
    that pass the id by hand write, raises KeyError ("Attempt to
    overwrite 'request_id' in LogRecord"). The app's value wins, as it
    would without graft. A record costs the factory's call; a request
    nothing."""
    old_factory = logging.getLogRecordFactory()

    def factory(*args, **kwargs):
        record = old_factory(*args, **kwargs)
        env = serving.env
        if env is None:
            record.request_id = "-"
        else:
            rid = env.get("graft.request_id") or env.get("HTTP_X_REQUEST_ID")
            record.request_id = str(rid) if rid else "-"
        return record

    logging.setLogRecordFactory(factory)
    make_record = logging.Logger.makeRecord

    def makeRecord(self, name, level, fn, lno, msg, args, exc_info, func=None, extra=None, sinfo=None):
        if extra is None or "request_id" not in extra:
            return make_record(self, name, level, fn, lno, msg, args, exc_info, func, extra, sinfo)
        extra = dict(extra)
        own = extra.pop("request_id")
        record = make_record(self, name, level, fn, lno, msg, args, exc_info, func, extra, sinfo)
        record.request_id = own
        return record

    makeRecord.__doc__ = make_record.__doc__
    logging.Logger.makeRecord = makeRecord


_PIPE_RECORD = chr(PIPE_RECORD)
_PIPE_RECORD_SEP = chr(PIPE_RECORD_SEP)


def pipe_record(levelno, name, msg):
    """A record as one line of the output pipe, in bytes: see PIPE_RECORD.
    The message's backslashes, CRs and LFs are escaped, so that a
    traceback stays in its record's line; the logger name has no
    separator or line end (they would be replaced by "?")."""
    name = name.replace(_PIPE_RECORD_SEP, "?").replace("\n", "?").replace("\r", "?")
    msg = msg.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n")
    line = "%s%d%s%s%s%s\n" % (_PIPE_RECORD, levelno, _PIPE_RECORD_SEP, name, _PIPE_RECORD_SEP, msg)
    return line.encode("utf-8", "replace")


class GoLogHandler(logging.Handler):
    """Sends `logging` records to Go as LOG frames: level, logger name, text,
    and, for a record logged by a thread while it serves a request (see
    Serving), the request's id (flag F_REQUEST_ID). Records of the app's
    own threads, and those logged outside of a request, carry none.

    Where this process may not use the socket (conn is None in a child
    process the app forked, see ChildGuard; a signal handler
    that interrupted a send, see Conn.in_send), a record goes to the
    output pipe instead, as one line that only this handler writes
    (pipe_record): Go logs it at its level, with its logger, as it logs a
    LOG frame, a traceback in its text and all.
    """

    def __init__(self, conn):
        super().__init__()
        self.conn = conn

    def emit(self, record):
        try:
            if self.printed(record):
                return
            msg = self.format(record)
            conn = self.conn
            if conn is None or conn.in_send():
                # A forked child, or a signal handler that interrupted a
                # send of this thread: the output pipe, one marked line.
                data = pipe_record(record.levelno, record.name, msg)
                view = memoryview(data)
                while view:
                    view = view[os.write(2, view) :]
                return
            payload = ("%d\0%s\0%s" % (record.levelno, record.name, msg)).encode("utf-8", "replace")
            env = serving.env
            rid = request_id(env) if env is not None else b""
            key = serving.key or thread_key()  # Go logs this thread's partial line first
            if rid:
                conn.send(LOG, key, rid + b"\0" + payload, flags=F_REQUEST_ID)
            else:
                conn.send(LOG, key, payload)
        except Exception:
            self.handleError(record)

    def printed(self, record):
        """Whether a handler of the app's wrote record to stdout or stderr.

        Such a handler on the record's way to the root logger (a console
        handler on a logger that propagates, as Django's default logging
        has on "django" with DEBUG on, or beside graft's on the root
        logger) has printed it, which Go logs already (graft.stream=stdio):
        sent again it would be logged twice, where gunicorn prints it once.
        """
        logger = logging.Logger.manager.loggerDict.get(record.name)
        if record.name == "root" or not isinstance(logger, logging.Logger):
            logger = logging.getLogger()
        while logger is not None:
            for h in logger.handlers:
                if (
                    h is not self
                    and isinstance(h, logging.StreamHandler)
                    and record.levelno >= h.level
                    and console_stream(h.stream)
                    and h.filter(record)
                ):
                    return True
            if not logger.propagate:
                break
            logger = logger.parent
        return False


def console_stream(stream):
    """Whether stream writes to the process's stdout or stderr (Go reads both)."""
    try:
        return stream.fileno() in (1, 2)
    except (AttributeError, OSError, ValueError):
        return False


def keep_basic_config(log_handler):
    """Let the app's logging.basicConfig() take effect beside graft's handler.

    basicConfig configures only a root logger without handlers, and graft's
    handler is on the root logger: the app's basicConfig(level=INFO) would
    do nothing, its INFO records dropped. With graft's handler alone on the
    root logger, basicConfig runs as on a root logger without handlers;
    then, unless it was given where to write (stream, filename, handlers),
    graft's handler replaces the console handler it made: the level is the
    app's, the records still go to Go with their level and logger (the
    format is graft's log's). A stream, a file or handlers replace graft's
    handler, as dictConfig with a "root" entry and basicConfig(force=True)
    do; a root logger configured otherwise is left alone, as basicConfig
    leaves it.
    """
    original = logging.basicConfig

    def basicConfig(**kwargs):
        root = logging.getLogger()
        if root.handlers != [log_handler] or kwargs.get("force"):
            return original(**kwargs)
        root.removeHandler(log_handler)
        try:
            original(**kwargs)
        finally:
            if not any(k in kwargs for k in ("stream", "filename", "handlers")):
                for h in root.handlers[:]:
                    root.removeHandler(h)
                    h.close()
            if not root.handlers:
                root.addHandler(log_handler)

    basicConfig.__doc__ = original.__doc__
    logging.basicConfig = basicConfig


# Statuses and header names that passed the checks below. An app sends a
# handful of each, so each is checked once instead of on every response; the
# memos stop growing at MEMO_MAX entries, so that an app making names up
# cannot grow them without bound. (Adding to a set or dict is atomic under
# the GIL: threads may share them.)
MEMO_MAX = 256
checked_statuses = set()
checked_names = {}  # header name -> its lower-case form

MAX_LENGTH = (1 << 63) - 1  # the largest Content-Length Go takes (int64)


def safe_repr(o, limit=200):
    """repr(o) for an error message: cut to limit characters, and a
    description instead of an exception when o's __repr__ raises."""
    try:
        r = repr(o)
        if type(r) is not str:
            r = str.__str__(r)
    except BaseException:
        return "<unprintable %s object>" % type(o).__name__
    return r if len(r) <= limit else r[:limit] + "..."


def describe(exc):
    """'Type: message' for an exception, even one whose __str__ raises
    (then the message is '<unprintable Type object>'): reporting an app's
    error must not become an error of its own."""
    name = type(exc).__name__
    try:
        return "%s: %s" % (name, exc)
    except BaseException:
        return "%s: <unprintable %s object>" % (name, name)


def format_error(exc):
    """exc's traceback, as traceback.format_exception words it. Should
    formatting it raise (an exception class whose __getattr__ raises, say
    a wrapper forwarding to an attribute it lacks: the traceback module
    of Python 3.11 and 3.12 looks up __notes__ and lets that error out),
    the stack and describe(exc) instead: reporting an app's error must not
    end the worker."""
    try:
        return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    except BaseException:
        try:
            stack = "".join(traceback.format_tb(exc.__traceback__))
        except BaseException:
            stack = ""
        return "Traceback (most recent call last):\n%s%s (the traceback module could not format this exception)\n" % (
            stack, describe(exc))


def native(s):
    """s as an exact str, for a str subclass (markupsafe.Markup, which Flask
    apps pass around, or an app's own): a plain str with the same
    characters, made without calling any method the subclass defines
    (__str__, strip, lower...). PEP 3333 asks for native strings, and a
    subclass of str is one, as gunicorn takes it. None for anything else
    (bytes, int, None), which the caller refuses. Exact strs, nearly every
    value, never get here: the callers check type(s) is str first."""
    if isinstance(s, str):
        return str.__str__(s)  # an exact copy of a subclass's characters
    return None


def check_status(status):
    """Validate status; return it as an exact str (see native)."""
    if type(status) is not str:
        plain = native(status)
        if plain is None:
            raise TypeError("start_response: status must be str, not %s" % type(status).__name__)
        status = plain
    if status in checked_statuses:
        return status
    if len(status) > MAX_HEAD:
        # Bounded as the headers are: Go would hold it all (net/http sends
        # no reason phrase), which for 200 MB took 24 s and 400 MB.
        raise ValueError("start_response: status of %d characters, over %d: %r" % (len(status), MAX_HEAD, status[:100] + "..."))
    code = status[:3]
    if not (code.isdigit() and code.isascii() and (len(status) == 3 or status[3] == " ")):
        raise ValueError("start_response: status %r is not '<3 digits> <reason>'" % status)
    if code[0] == "0":
        raise ValueError("start_response: status %r: a status code is 100 to 999, and 1xx cannot be sent by a WSGI app" % status)
    if code[0] == "1":
        raise ValueError("start_response: status %r: informational (1xx) statuses cannot be sent by a WSGI app" % status)
    if has_control(status):
        raise ValueError("start_response: status %r contains control characters" % status)
    try:
        status.encode("latin-1")
    except UnicodeEncodeError:
        raise ValueError("start_response: status %r is not latin-1" % status) from None
    if len(checked_statuses) < MEMO_MAX:
        checked_statuses.add(status)
    return status


# MAX_HEAD bounds the header fields of one response, counted as the
# "Name: value\r\n" lines an HTTP/1.1 response would carry them in. Go
# would hold them all in memory, and pass them on: a browser refuses a
# response whose headers pass about 256 KiB, and Go's own HTTP client past
# 10 MB. An app sending more (a header built from a huge request field, a
# session stored in a cookie) gets a clear error instead of an OOM risk.
MAX_HEAD = 1 << 20


def check_headers(headers, who="start_response"):
    """Validate headers; return (flat list for the head block, content length or -1)."""
    if type(headers) is not list and not isinstance(headers, list):
        raise TypeError("%s: headers must be a list, not %s" % (who, type(headers).__name__))
    flat = []
    length = -1
    size = 0
    for item in headers:
        if (type(item) is not tuple and not isinstance(item, tuple)) or len(item) != 2:
            raise TypeError("%s: header %s is not a (name, value) tuple" % (who, safe_repr(item)))
        name, value = item
        if type(name) is not str or type(value) is not str:
            # Rare: str subclasses (see native), or a mistake.
            plain_name, plain_value = native(name), native(value)
            if plain_name is None or plain_value is None:
                raise TypeError("%s: header %s: name and value must be str, not %s and %s"
                                % (who, safe_repr(item), type(name).__name__, type(value).__name__))
            name, value = plain_name, plain_value
        # Before any other check, which would scan a huge value first.
        size += len(name) + len(value) + 4
        if size > MAX_HEAD:
            raise ValueError("%s: response headers over %d bytes (at header %d, %s): send big data in the body"
                             % (who, MAX_HEAD, len(flat) // 2 + 1, name[:100]))
        lower = checked_names.get(name)
        if lower is None:
            if not is_token(name):
                raise ValueError("%s: invalid header name %r" % (who, name))
            lower = name.lower()
            if lower in HOP_BY_HOP:
                raise ValueError("%s: hop-by-hop header %s is not allowed from a WSGI app" % (who, name))
            if len(checked_names) < MEMO_MAX:
                checked_names[name] = lower
        # isprintable() is True for nearly every value and rules out every
        # control character, which the regular expression costs more to do.
        if not value.isprintable() and has_control(value):
            raise ValueError("%s: header %s: value %r contains CR, LF or control characters" % (who, name, value))
        if not value.isascii():
            try:
                value.encode("latin-1")
            except UnicodeEncodeError:
                raise ValueError("%s: header %s: value %r is not latin-1 (encode it, RFC 2047)" % (who, name, value)) from None
        if lower == "content-length":
            # Digits, with optional whitespace around them (RFC 9110 5.5:
            # SP and HTAB only), and a length Go can hold (int64). Go gets
            # the digits alone: it reads the value as it comes.
            if value.isdigit() and value.isascii() and len(value) <= 18:
                n = int(value)  # the usual value: digits alone, below MAX_LENGTH
            else:
                raw, value = value, value.strip(" \t")
                digits = value.lstrip("0") or "0"
                n = int(digits) if value.isascii() and value.isdigit() and len(digits) <= 19 else -1
                if not 0 <= n <= MAX_LENGTH:
                    raise ValueError("%s: invalid Content-Length %r" % (who, raw))
            if length >= 0:
                # Which one would the client believe? (RFC 9110 8.6)
                raise ValueError("%s: Content-Length given twice" % who)
            length = n
        flat.append(name)
        flat.append(value)
    return flat, length


def exc_info_error(exc_info):
    """What start_response raises for an exc_info given once the response's
    headers were sent (PEP 3333: it must raise, and should re-raise
    exc_info's exception): that exception, with its traceback. An exc_info
    holding no exception (sys.exc_info() outside an except block: (None,
    None, None)) has nothing to re-raise: an AssertionError saying so, as
    for any misuse of start_response; one that is no sys.exc_info() tuple,
    a TypeError naming it. Before the headers are sent any exc_info only
    lets start_response replace them (as gunicorn and wsgiref do)."""
    try:
        _, value, tb = exc_info
    except Exception:
        value = tb = exc_info  # not three items: refused below
    if value is None:
        return AssertionError("start_response called with an exc_info holding no exception after the response headers were sent")
    if not isinstance(value, BaseException):
        return TypeError("start_response: exc_info must be a sys.exc_info() tuple, not %s %s" % (type(exc_info).__name__, safe_repr(exc_info)))
    try:
        return value.with_traceback(tb)
    except TypeError:
        return value  # tb is no traceback: the exception as it is


def not_bytes(item):
    """The error for an item of the app's iterable that is not bytes."""
    return TypeError("the WSGI app's iterable yielded %s, not bytes" % type(item).__name__)


class Request:
    """One request's response state: start_response, write and the send loop."""

    __slots__ = ("conn", "stream", "chunk", "status", "headers", "length", "sized", "sent", "head_sent", "ended", "check", "body_file", "closer", "log", "env", "over")

    def __init__(self, conn, stream, chunk, log, env):
        self.conn = conn
        self.log = log  # the worker's logger, for close()'s exceptions
        self.env = env  # the request's environ, for cut()'s warning
        self.over = False  # the body went past the Content-Length: warned
        self.stream = stream
        self.chunk = chunk  # the largest body frame: Go's response window at most
        self.status = None
        self.headers = None
        self.length = -1  # the app's Content-Length, -1 when none
        self.sized = -1  # the body's length when known before it is sent
        self.sent = 0  # body bytes sent
        self.head_sent = False
        self.ended = False  # the response's final frame is sent: write() raises
        self.check = None  # check(stream) raises Cancelled once Go cancelled it
        self.body_file = None  # wsgi.input when it reads a spooled body's file
        self.closer = None  # the close() of the app's iterable, until called

    def cut(self):
        """Warn, once per response, that the app's body went past its
        Content-Length and the rest was not sent (PEP 3333: never more
        than declared). The client gets the declared bytes and cannot tell
        that the app meant more (a length counted in characters of a text
        rather than in its encoded bytes), so the log says it, as waitress
        does. Logged before the frame that ends the body: Go reads the
        record before the response is complete."""
        if not self.over:
            self.over = True
            env = self.env
            self.log.warning(
                "wsgi: app sent more bytes than its Content-Length (%d) for %s %s; the rest was not sent",
                self.length, env.get("REQUEST_METHOD", ""), env.get("REQUEST_URI", "").partition("?")[0])

    def close_result(self):
        """Call the close() of the app's iterable (PEP 3333), once, before
        the response's final frame: until that frame Go counts the request
        as running, so the time close() takes (Django's request_finished
        handlers) is the request's, under its Timeout, and if the worker
        dies in it, it is this request that failed, never the next one,
        which has not started. An exception is logged: the response is
        complete all the same."""
        close = self.closer
        if close is not None:
            self.closer = None
            try:
                close()
            except Exception:
                self.log.exception("close() of the WSGI response iterable raised")

    def close_failed(self):
        """close_result for a request that already failed: its final frame
        (the error, the abort, the cancel) must still go out, so a
        SystemExit or KeyboardInterrupt from close() is returned, for the
        caller to raise once that frame is sent (the worker then leaves, as
        for the app's own SystemExit), instead of escaping before it."""
        try:
            self.close_result()
        except BaseException as exc:  # not an Exception: close_result logs those
            return exc
        return None

    def close_body_file(self):
        """Close the spooled body's file before the response's final frame:
        once that frame arrives Go may write another request's body into the
        same file, so nothing here may read it afterwards (wsgi.input then
        raises ValueError, as any closed file)."""
        f = self.body_file
        if f is not None:
            self.body_file = None
            f.close()

    def start_response(self, status, headers, exc_info=None):
        if exc_info:
            try:
                if self.head_sent:
                    raise exc_info_error(exc_info)
            finally:
                exc_info = None  # no reference cycle through the traceback
        elif self.status is not None:
            raise AssertionError("start_response called a second time without exc_info")
        status = check_status(status)
        flat, length = check_headers(headers)
        self.status, self.headers, self.length = status, flat, length
        return self.write

    def early_hints(self, headers):
        """wsgi.early_hints (as in gunicorn 25): send a 103 Early Hints
        response with these (name, value) headers, validated as
        start_response validates them, before the final response. Go sends
        it (not over HTTP/1.0, which has no 1xx responses). Once the final
        response's headers are out it does nothing: it is too late."""
        flat, _ = check_headers(headers, "wsgi.early_hints")
        for name in flat[::2]:
            if name.lower() in ("content-length", "transfer-encoding"):
                raise ValueError("wsgi.early_hints: %s is not allowed in a 103 response" % name)
        if flat and not self.head_sent and not self.ended:
            self.conn.send(HINTS, self.stream, "\0".join(flat).encode("latin-1"))

    def head_block(self):
        return "\0".join([self.status] + self.headers).encode("latin-1")

    def _send_head(self):
        if self.status is None:
            raise AssertionError("the WSGI app returned body data before calling start_response")
        if self.sized >= 0:
            self.conn.send(HEAD, self.stream, U64.pack(self.sized) + self.head_block(), F_SIZED)
        else:
            self.conn.send(HEAD, self.stream, self.head_block())
        self.head_sent = True

    def write(self, data):
        """The write() callable that start_response returns (PEP 3333)."""
        if self.ended:
            # An app that kept write() and calls it from a thread of its
            # own: the stream is Go's no more, and this thread must not
            # read the socket (check_cancel).
            raise RuntimeError("write() called after the response ended")
        if type(data) is not bytes:
            if not isinstance(data, (bytes, bytearray, memoryview)):
                raise TypeError("write() takes bytes, not %s" % type(data).__name__)
            data = bytes(data)
        if not self.head_sent:
            self._send_head()
        n = len(data)
        if self.length >= 0 and n > self.length - self.sent:
            n = self.length - self.sent  # never more than the app's Content-Length
            self.cut()
        chunk = self.chunk
        if n <= chunk:
            if n:
                self.sent += n
                self.conn.send(DATA, self.stream, data if n == len(data) else data[:n])
            self.check(self.stream)
            return
        # A chunk larger than Go's window goes in window-sized frames, so
        # that Go never holds more than the window, whatever the app yields;
        # a cancelled request stops between frames.
        view = memoryview(data)
        for pos in range(0, n, chunk):
            part = view[pos : min(pos + chunk, n)]
            self.sent += len(part)
            self.conn.send(DATA, self.stream, part)
            self.check(self.stream)

    def finish(self, result):
        """Send the response for the iterable the app returned."""
        if type(result) in (list, tuple) and not self.head_sent:
            if self.status is None:
                raise AssertionError("the WSGI app returned without calling start_response")
            size = 0
            for item in result:
                if type(item) is not bytes:
                    if not isinstance(item, (bytes, bytearray, memoryview)):
                        raise not_bytes(item)
                    size = -1  # bytes-likes: join() takes them, and counts
                    break
                size += len(item)
            if 0 <= self.length < size:
                size = self.length
                self.cut()
            if size <= self.chunk:
                # Fast path: the whole response in one frame.
                body = b"".join(result)
                if 0 <= self.length < len(body):
                    body = body[: self.length]
                    self.cut()
                if len(body) <= self.chunk:
                    self._send_whole(body)
                    return
                result = [body]
            else:
                # Larger than Go's window: streamed in window-sized frames,
                # with its length known up front as on the fast path.
                self.sized = size
        if type(result) is FileWrapper and not self.head_sent and self.status is not None:
            real = result.real_file()
            if real is not None:
                fd, offset, size = real
                if self.length >= 0:
                    size = min(size, self.length)
                if size > 0:
                    self.sized = size  # Go sends a Content-Length, and sendfile
                self._send_head()
                self.conn.send_fd(FILE, self.stream, FILE_RANGE.pack(offset, size), fd)
                self.sent = size
                self._send_end()
                return
        write = self.write
        for chunk in result:
            length = self.length  # a generator may call start_response late
            if (
                not self.head_sent
                and type(chunk) is bytes
                and 0 <= length <= len(chunk)
                and length <= self.chunk
                and self.status is not None
            ):
                # A block that holds the whole declared body, before any was
                # sent (Flask's and Django's responses: one block and a
                # Content-Length): the response goes in one frame, as a
                # list's does. Nothing yielded after it could be sent.
                if len(chunk) > length:
                    self.cut()
                self._send_whole(chunk[:length])
                return
            if type(chunk) is not bytes and not isinstance(chunk, (bytes, bytearray, memoryview)):
                raise not_bytes(chunk)  # before write(), whose message would name write()
            if chunk:
                write(chunk)
                if 0 <= self.length <= self.sent:
                    break  # the declared length is reached: stop iterating
            else:
                self.check(self.stream)
        if not self.head_sent:
            # Empty body: status and headers still go out (in one frame).
            if self.status is None:
                raise AssertionError("the WSGI app returned without calling start_response")
            self._send_whole(b"")
            return
        self._send_end()

    # The response's final frame goes out through one of these two, after
    # the iterable's close() (see close_result) and once the spooled body's
    # file is closed (see close_body_file).

    def _send_whole(self, body):
        """Send the whole response, head and body, in one RESP frame."""
        self.sent = len(body)
        head = self.head_block()
        # Called only when there is something to close: a call costs the
        # hello response about 1% of the worker's instructions.
        if self.closer is not None:
            self.close_result()
        if self.body_file is not None:
            self.close_body_file()
        self.conn.send(RESP, self.stream, U32.pack(len(head)) + head + body)

    def _send_end(self):
        """End a streamed response (HEAD, DATA or FILE frames before it)."""
        self.close_result()
        self.close_body_file()
        self.conn.send(END, self.stream)


class Worker:
    """Runs the app for requests read from the socket to Go."""

    def __init__(self, conn, app, threads, multiprocess, chunk, log):
        self.conn = conn
        self.app = app
        self.threads = threads
        self.chunk = chunk
        self.log = log
        self.errors_log = logging.getLogger("wsgi.errors")
        self.base = {
            "wsgi.version": (1, 0),
            "wsgi.multithread": threads > 1,
            "wsgi.multiprocess": multiprocess,
            "wsgi.run_once": False,
            "wsgi.input_terminated": True,
            "wsgi.file_wrapper": FileWrapper,
            "SERVER_SOFTWARE": "graft",
            "graft.worker_pid": os.getpid(),
        }
        self.cancelled = set()  # running or queued streams Go cancelled
        self.backlog = collections.deque()  # prefetched REQ frames (single thread)
        self.next_look = 0.0  # monotonic time of check_cancel's next look at the socket (single thread)
        self.current = -1  # the stream being served (single thread)
        # Withdrawals (see watch_withdrawals): REQ and CALL frames come in
        # the order Go numbered them (1, 2, ...), and withdrawn holds the
        # numbers Go took back before they began. Single thread: begun is
        # the number of the last one this worker started or skipped. More
        # threads begin requests out of order: read is the number of the
        # last frame read, unbegun those read and not begun (withdrawn
        # ones aside). All change under begin_lock only.
        self.begun = 0
        self.read = 0
        self.unbegun = set()
        self.withdrawn = set()
        self.begin_lock = threading.Lock()

    def environ(self, flags, payload):
        """Decode a REQ payload into (environ, inline body)."""
        (env_len,) = U32.unpack_from(payload)
        block = payload[4 : 4 + env_len]
        env = self.base.copy()
        if flags & F_ENV_LP:
            # Rare: a value holds NUL (a decoded %00 in the path), so the
            # block is u32-length-prefixed strings instead of NUL-separated.
            pos, end, items = 0, len(block), []
            while pos < end:
                (n,) = U32.unpack_from(block, pos)
                items.append(block[pos + 4 : pos + 4 + n].decode("latin-1"))
                pos += 4 + n
            it = iter(items)
        else:
            it = iter(block.decode("latin-1").split("\0"))
        env.update(zip(it, it))
        return env, payload[4 + env_len :]

    def handle(self, stream, flags, payload, fd):
        if stream in self.cancelled:
            # The client left while this request waited in the worker's
            # socket (prefetched): the app never sees it.
            self.cancelled.discard(stream)
            if fd >= 0:
                os.close(fd)
            self.conn.send(END, stream, flags=F_CANCELLED)
            return
        env, body = self.environ(flags, payload)
        if fd >= 0:
            inp = os.fdopen(fd, "rb", buffering=1 << 16)
        else:
            inp = io.BytesIO(body)
        env["wsgi.input"] = inp
        errors = env["wsgi.errors"] = ErrorStream(self.errors_log)
        req = Request(self.conn, stream, self.chunk, self.log, env)
        req.check = self.check_cancel
        if fd >= 0:
            req.body_file = inp
        env["wsgi.early_hints"] = req.early_hints
        serving.env = env  # records this thread logs carry the request's id
        try:
            result = self.app(env, req.start_response)
            req.closer = getattr(result, "close", None)
            req.finish(result)
        except Cancelled:
            leaving = req.close_failed()
            req.close_body_file()
            self.conn.send(END, stream, flags=F_CANCELLED)
            if leaving is not None:
                raise leaving  # close()'s SystemExit, KeyboardInterrupt: the worker goes
        except BaseException as exc:
            if self.conn.forked:
                # A child process the app forked, leaving the app (sys.exit,
                # an exception, or ForkedChild from sending its response):
                # it has no response to send (exit_for ends it).
                raise
            tb = format_error(exc)
            leaving = req.close_failed()
            if leaving is not None:
                tb += "\nthen close() of the WSGI response iterable raised:\n" + format_error(leaving)
            req.close_body_file()
            if req.head_sent:
                self.conn.send(END, stream, tb.encode("utf-8", "replace"), flags=F_ABORT)
            else:
                self.conn.send(ERROR, stream, tb.encode("utf-8", "replace"))
            if leaving is not None:
                raise leaving  # as Python's try/finally would: close()'s exception wins
            if not isinstance(exc, Exception):
                raise  # SystemExit, KeyboardInterrupt: let the worker die
        finally:
            req.ended = True
            # env holds req.early_hints, req holds env (for cut()): break
            # the cycle, so that both are freed now by reference counting
            # rather than by the cyclic collector, which costs every
            # request about 3 us of the worker's CPU.
            req.env = None
            try:
                inp.close()
                errors.flush()  # a last partial line: with the request's id
            finally:
                serving.env = None

    def check_cancel(self, stream):
        """Raise Cancelled if Go cancelled `stream` (called between chunks)."""
        cancelled = self.cancelled
        if self.threads == 1:
            # Single-threaded: nothing else reads the socket, so look for
            # frames without blocking (a poll, at most one per
            # CANCEL_LOOK_INTERVAL). A REQ is a prefetched next request:
            # keep it for later. A CANCEL is for this response or for a
            # prefetched one.
            now = monotonic()
            if now >= self.next_look:
                self.next_look = now + CANCEL_LOOK_INTERVAL
                conn = self.conn
                while conn.pending():
                    frame = conn.read_frame()
                    if frame is None:
                        leave(0)  # Go is gone
                    if frame[0] == REQ or frame[0] == CALL:
                        self.backlog.append(frame)
                    elif frame[0] == CANCEL:
                        self.note_cancel(frame[2])
        # Threaded: the reader thread records CANCEL frames; just look.
        if stream in cancelled:
            cancelled.discard(stream)
            raise Cancelled()

    def note_cancel(self, stream):
        """Record a CANCEL for the running or a prefetched request; others are stale."""
        if stream == self.current or any(f[2] == stream for f in self.backlog):
            self.cancelled.add(stream)

    def serve(self):
        if self.threads > 1:
            return self.serve_threaded()
        conn, backlog = self.conn, self.backlog
        begin_lock, withdrawn = self.begin_lock, self.withdrawn
        while True:
            if backlog:
                frame = backlog.popleft()
            else:
                frame = conn.read_frame()
                if frame is None:
                    return
            kind, flags, stream, payload, fd = frame
            if kind == REQ:
                with begin_lock:
                    self.begun = n = self.begun + 1
                    skip = n in withdrawn
                if skip:
                    # Go took it back while it waited behind a slow request
                    # (watch_withdrawals) and sent it elsewhere: nothing of
                    # it may reach the app or Go.
                    withdrawn.discard(n)
                    self.cancelled.discard(stream)
                    if fd >= 0:
                        os.close(fd)
                    continue
                self.current = stream
                self.handle(stream, flags, payload, fd)
                self.current = -1
                self.cancelled.discard(stream)  # stream ids are reused
            elif kind == CALL:
                with begin_lock:
                    self.begun += 1  # numbered as requests are; never withdrawn
                handle_call(self, stream, flags, payload)
            elif kind == CONTROL:
                threading.Thread(target=self.watch_withdrawals, args=(fd,), name="graft-withdraw", daemon=True).start()
            # A CANCEL read here is for a response that already ended: stale.

    def watch_withdrawals(self, fd):
        """Answer Go's WITHDRAW frames on the control socket (descriptor
        fd), on a thread of its own that waits in recv, so costs nothing
        while there are none. Go sends one when the requests this worker's
        threads run have turned slow and others wait behind them: it names
        them by number, and those not begun yet are marked withdrawn, under
        the lock a thread takes to begin a request, so that each one is
        either begun here or sent elsewhere by Go, never both. The WITHDRAWN
        answer (on the socket to Go, like any frame) lists the ones marked;
        Go sends only those elsewhere. A thread that never gets the GIL (the
        app holds it in C) never answers: the requests wait, as they did
        before."""
        sock = self.conn.control = go_socket(fd)  # a child the app forks closes it (Conn.detach)
        buf = b""
        while True:
            try:
                data = sock.recv(65536)
            except OSError:
                return
            if not data:
                return  # Go closed it: the worker is leaving
            buf += data
            while len(buf) >= HEADER_SIZE:
                kind, _flags, _stream, length = HEADER.unpack_from(buf)
                if len(buf) < HEADER_SIZE + length:
                    break
                payload = buf[HEADER_SIZE : HEADER_SIZE + length]
                buf = buf[HEADER_SIZE + length :]
                if kind != WITHDRAW:
                    continue
                asked = [U64.unpack_from(payload, i)[0] for i in range(0, len(payload) - len(payload) % 8, 8)]
                with self.begin_lock:
                    if self.threads == 1:
                        took = [n for n in asked if n > self.begun]
                    else:
                        # Not read yet, or read and waiting for a thread.
                        took = [n for n in asked if n > self.read or n in self.unbegun]
                        self.unbegun.difference_update(took)
                    self.withdrawn.update(took)
                self.conn.send(WITHDRAWN, 0, b"".join(U64.pack(n) for n in took))

    def serve_threaded(self):
        """T threads run requests; this thread reads frames, numbers them as
        Go does (see watch_withdrawals) and routes CANCELs."""
        jobs = queue.SimpleQueue()
        queued = set()  # streams received and not yet finished
        # Makes "still queued? then mark cancelled" atomic, and is the lock
        # a thread takes to begin a request (see watch_withdrawals).
        lock = self.begin_lock
        unbegun, withdrawn = self.unbegun, self.withdrawn

        # Go sends START_MAP once this worker is READY, before any REQ
        # (its first frame): memory shared with Go, a byte per
        # stream id, which a thread sets before the app sees the request on
        # that stream (Go clears it when it reuses the id). If this process
        # is killed (the OOM killer), Go reads it to tell the requests it
        # never started, which it sends to another worker, from those it
        # did, which it must not run twice. The last byte says the map is
        # in use: Go trusts nothing in it before.
        started = None

        def run():
            while True:
                n, stream, flags, payload, fd = jobs.get()
                with lock:
                    skip = n in withdrawn
                    if skip:
                        # Go took it back while it waited for a thread
                        # (watch_withdrawals) and sent it elsewhere: nothing
                        # of it may reach the app or Go.
                        withdrawn.discard(n)
                        queued.discard(stream)
                        self.cancelled.discard(stream)
                    else:
                        unbegun.discard(n)
                        started[stream] = 1
                if skip:
                    if fd >= 0:
                        os.close(fd)
                    continue
                try:
                    self.handle(stream, flags, payload, fd)
                except BaseException as exc:
                    exit_for(exc)  # SystemExit in a thread: the whole worker goes
                with lock:
                    queued.discard(stream)
                    self.cancelled.discard(stream)  # stream ids are reused

        for i in range(self.threads):
            threading.Thread(target=run, name="graft-wsgi-%d" % i, daemon=True).start()
        conn = self.conn
        while True:
            frame = conn.read_frame()
            if frame is None:
                return
            kind, flags, stream, payload, fd = frame
            if kind == REQ:
                with lock:
                    queued.add(stream)
                    self.read = n = self.read + 1
                    if n not in withdrawn:  # else taken back before it was read
                        unbegun.add(n)
                jobs.put((n, stream, flags, payload, fd))
            elif kind == START_MAP:
                (size,) = U32.unpack_from(payload)
                started = mmap.mmap(fd, size)
                os.close(fd)
                started[size - 1] = 1
            elif kind == CALL:
                with lock:
                    self.read += 1  # numbered as requests are; never withdrawn
                start_call(self, stream, flags, payload)
            elif kind == CONTROL:
                threading.Thread(target=self.watch_withdrawals, args=(fd,), name="graft-withdraw", daemon=True).start()
            elif kind == CANCEL:
                with lock:
                    if stream in queued:
                        self.cancelled.add(stream)


def load_app(spec):
    """Import `module:attr.path` or `module:factory()`; the default attr is `application`."""
    module, _, expr = spec.partition(":")
    expr = expr or "application"
    call = expr.endswith("()")
    if call:
        expr = expr[:-2]
    __import__(module)
    obj = sys.modules[module]
    for part in expr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise AttributeError("module %r has no attribute %r (app spec %r)" % (module, expr, spec)) from None
    if call:
        obj = obj()
    if not callable(obj):
        raise TypeError("app spec %r names a %s, which is not callable" % (spec, type(obj).__name__))
    return obj


def install_dumps():
    """Dump every thread's stack to stderr on a fatal signal and on SIGUSR1.

    chain: once the stacks are written, Python's own handler of SIGUSR1
    (which does nothing) writes the signal to the wakeup descriptor of a
    worker, whose thread then ends the dump with DUMP_END (mark_dumps)."""
    faulthandler.enable(file=sys.stderr, all_threads=True)
    signal.signal(signal.SIGUSR1, lambda *_: None)
    signal.siginterrupt(signal.SIGUSR1, False)
    faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=True, chain=True)


# The line that follows each stack dump faulthandler writes on SIGUSR1 in a
# worker, and that a worker writes once as it starts: Go gathers the
# lines of a dump into one record up to it, however long they take to
# come (output.go's dumpEnd), and logs it never.
DUMP_END = b"graft: end of the Python stacks\n"


def mark_dumps():
    """Follow each stack dump on SIGUSR1 with DUMP_END on the output pipe.

    faulthandler writes the dump from its C signal handler, which then
    calls Python's (chain=True), which writes the signal's number to the
    wakeup descriptor: when this thread reads it, the whole dump is in the
    pipe, and DUMP_END goes after it. Python code cannot run in the signal
    handler, and Python's handler itself runs only when the main thread
    gets back to Python code, which a worker blocked reading its socket
    does not. If the app replaces the wakeup descriptor, or a thread holds
    the GIL for good, no DUMP_END comes: Go ends the dump by its next line,
    by EOF, or after a pause. Called in the main thread before the app is
    imported, so that a dump of an import that hangs ends at DUMP_END too
    (it used to end after 100 ms without a line, in pieces on a loaded
    machine), and again in a worker the zygote forked (fork drops the
    thread). Returns a function that stops the thread (the zygote's,
    before it forks: see zygote).

    Every signal that has a Python handler (the app's, SIGINT, SIGTERM)
    wakes the thread, as Python writes each to the wakeup descriptor; no
    request sends one."""
    r, w = os.pipe()
    os.set_blocking(w, False)
    signal.set_wakeup_fd(w, warn_on_full_buffer=False)

    def run():
        try:
            while True:
                got = os.read(r, 512)
                if not got:
                    return
                if signal.SIGUSR1 in got:
                    try:
                        os.write(2, DUMP_END)
                    except OSError:
                        pass  # the pipe is gone with Go
        finally:
            os.close(r)

    thread = threading.Thread(target=run, name="graft-stacks", daemon=True)
    thread.start()
    try:
        os.write(2, DUMP_END)  # tells Go that this process ends its dumps
    except OSError:
        pass

    def stop():
        # The caller has replaced the wakeup descriptor: a signal before
        # that is read before the EOF.
        os.close(w)  # the thread reads EOF and ends
        thread.join()

    return stop


def serve_worker(conn, app, threads, multiprocess, chunk, forked=False):
    """Announce readiness on conn and serve requests until Go goes away.
    A worker the zygote forked starts its own graft-stacks thread (main
    started the one of a worker that imported the app itself)."""
    if forked:
        mark_dumps()
    version = "%d.%d.%d" % sys.version_info[:3]
    # surrogateescape: a path that is not UTF-8 goes to Go as its bytes.
    conn.send(READY, 0, ("%d\0%s\0%s" % (os.getpid(), version, sys.executable)).encode("utf-8", "surrogateescape"))
    try:
        Worker(conn, app, threads, multiprocess, chunk, logging.getLogger("graft.worker")).serve()
    except BaseException as exc:
        exit_for(exc)  # the app's SystemExit or KeyboardInterrupt (its response is sent)
    leave(0)


def exit_for(exc):
    """Exit as Python would for exc, escaped from serving (SystemExit's
    status, else 1 with its traceback), but through leave(): Python's own
    exit would wait for the app's threads that are not daemons, forever
    for a thread that never ends, its socket to Go still open.

    In a child process the app forked, exc is how the child left the app
    (see ChildGuard): its sys.exit, its exception, or
    ForkedChild when it returned from the app (its response would have
    been sent): that child exits with status 0, as a program whose main
    code ends, saying on stderr why, since it most likely meant to call
    os._exit() or sys.exit() in the view."""
    if isinstance(exc, ForkedChild):
        try:
            sys.stderr.write(
                "graft: process %d, forked by the app, returned from the app (or called start_response's"
                " write, or used wsgi.early_hints) instead of exiting: it cannot answer its parent's request,"
                " so it exits now (status 0); end a forked child with os._exit() or sys.exit()\n" % os.getpid()
            )
        except Exception:
            pass
        leave(0)
    if isinstance(exc, SystemExit) and (exc.code is None or isinstance(exc.code, int)):
        leave(exc.code or 0)
    try:
        if isinstance(exc, SystemExit):
            print(exc.code, file=sys.stderr)  # sys.exit("message")
        else:
            sys.stderr.write(format_error(exc))
    except Exception:
        pass  # stderr is gone with Go
    leave(1)


def leave(code):
    """Exit the process like Python would, minus the interpreter teardown.

    atexit hooks run (the app's, and logging's, which flushes and closes
    every handler), then stdout and stderr are flushed; what they log or
    print still reaches Go, which reads the socket until the process exits.
    Teardown is skipped: request threads may still be running, and Go has
    moved on.
    """
    try:
        atexit._run_exitfuncs()
    except BaseException:
        pass  # a failing hook has printed its traceback; exit anyway
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except Exception:
            pass
    os._exit(code)


MIN_PYTHON = (3, 9)


def python_problem():
    """Why this interpreter cannot run the worker, or None."""
    if tuple(sys.version_info[:2]) >= MIN_PYTHON:
        return None
    return "graft's worker needs Python %d.%d or later; %s is Python %d.%d.%d" % (
        MIN_PYTHON + (sys.executable,) + tuple(sys.version_info[:3])
    )


def set_pdeathsig():
    """Ask the kernel to SIGKILL this process when its parent dies (Linux)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass  # not Linux, or no ctypes: workers still exit on EOF of their socket


def zygote(conn, app, threads, multiprocess, chunk, guard, stop_marks):
    """Preload mode: fork workers on demand from this process, which has
    imported the app once.

    Before forking, the garbage collector's view is frozen (gc.freeze) so
    that collections in the workers do not touch the shared pages of the
    preloaded app, which then stay shared copy-on-write.

    guard is main()'s ChildGuard: in each worker, the logging handler and
    the streams under sys.stdout and sys.stderr send on the worker's
    socket. stop_marks stops the graft-stacks thread that ended the
    import's dumps (mark_dumps): the zygote's loop ends them from now on,
    woken by the same signals, and no thread of graft's is left when it
    forks.

    Go sends FORK frames carrying two descriptors: the new worker's socket
    and the pipe its stdout/stderr go to. The zygote answers FORKED with the
    child's pid, and EXITED with the status of every child it reaps.
    """
    import gc

    # SIGCHLD wakes the loop through this pipe, so exits are reported at
    # once; so does SIGUSR1, for the DUMP_END after its dump.
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    stop_marks()
    others = [t.name for t in threading.enumerate() if t is not threading.current_thread()]
    if others:
        # fork() copies only the forking thread: the workers get these
        # threads' memory (a lock one of them held stays held forever)
        # but not the threads themselves.
        logging.getLogger("graft.worker").warning(
            "the app started %d thread(s) while it was imported (%s); with preload the workers"
            " are forked without them, and a lock one of them held stays held in every worker:"
            " start threads lazily, or turn preload off (Config.NoPreload, -preload=false)",
            len(others), ", ".join(others))
    gc.collect()
    gc.freeze()
    sock = conn.sock
    poller = select.poll()  # poll, as everywhere in this program: any fd number works
    poller.register(sock, select.POLLIN)
    poller.register(wake_r, select.POLLIN)
    while True:
        reap(conn)
        if conn.end > conn.start:
            ready = {sock.fileno()}
        else:
            ready = {fd for fd, _ in poller.poll(1000)}
        if wake_r in ready:
            try:
                if signal.SIGUSR1 in os.read(wake_r, 512):
                    os.write(2, DUMP_END)  # as mark_dumps's thread did
            except OSError:
                pass  # BlockingIOError; or the pipe is gone with Go
        if sock.fileno() not in ready:
            continue
        frame = conn.read_frame()
        if frame is None:
            break  # Go closed the control socket: no more forks
        kind, _, tag, _, _ = frame
        if kind != FORK:
            continue
        fds = conn.fds[:2]
        del conn.fds[:2]
        if len(fds) != 2:
            for fd in fds:
                os.close(fd)
            conn.send(FORKED, tag, U32.pack(0))
            continue
        guard.worker_fork = True  # a worker, not a child of the app's (ChildGuard.forked)
        try:
            pid = os.fork()
        except OSError as exc:
            guard.worker_fork = False
            # A process limit (EAGAIN: RLIMIT_NPROC, a cgroup's pids.max),
            # or no memory: this fork fails, the zygote stays for the next.
            for fd in fds:
                os.close(fd)
            logging.getLogger("graft.worker").error("fork failed: %s", exc)
            conn.send(FORKED, tag, U32.pack(0))
            continue
        guard.worker_fork = False
        if pid == 0:
            # The child: become a worker on the descriptors Go sent.
            try:
                signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                os.close(wake_r)
                os.close(wake_w)
                set_pdeathsig()
                os.dup2(fds[1], 1)
                os.dup2(fds[1], 2)
                os.close(fds[1])
                sock.close()  # closed already by ChildGuard.forked (Conn.detach)
                wconn = Conn(go_socket(fds[0]))
                guard.speak_on(wconn)
                serve_worker(wconn, app, threads, multiprocess, chunk, forked=True)
            finally:
                os._exit(1)
        for fd in fds:
            os.close(fd)
        send_forked(conn, tag, pid)
    # Wait for the workers still running (they exit on EOF of their
    # sockets), so none is left without a parent that reaps it.
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        report_exit(conn, pid, status)
    leave(0)


def send_forked(conn, tag, pid):
    """Answer a FORK with the child's pid and, where the system has pidfds
    (Linux 5.3 and later), a pidfd of the child: with it Go sees the worker
    end even while this process cannot say so (stopped, say), and passes
    its forks over. The child is not reaped before this runs (reap() comes
    at the top of the loop), so its pid cannot have been reused: the pidfd
    is the child's."""
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        conn.send(FORKED, tag, U32.pack(pid))  # Go learns the exit from EXITED only
        return
    try:
        conn.send_fd(FORKED, tag, U32.pack(pid), pidfd, F_PID_FD)
    finally:
        os.close(pidfd)


def reap(conn):
    """Report the exit of every child that has ended."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        report_exit(conn, pid, status)


def report_exit(conn, pid, status):
    # "pid\0signal\0N" or "pid\0exit\0N"; Go words it.
    if os.WIFSIGNALED(status):
        what = "signal\0%d" % os.WTERMSIG(status)
    else:
        what = "exit\0%d" % os.waitstatus_to_exitcode(status)
    try:
        conn.send(EXITED, 0, ("%d\0%s" % (pid, what)).encode())
    except OSError:
        pass


# ---------------------------------------------------------------------------
# Control calls (Go's CALL frames): the app's route map and identity hooks.
#
# A CALL frame's payload is laid out like a REQ's: u32 environ length, the
# environ block, then "name\0argument". The worker answers with one
# CALL_RESULT frame on the same stream, a JSON object: {"ok": true,
# "value": ...} or {"ok": false, "error": "...", "traceback": "..."}.
# A call is not a request: it never reaches the app's WSGI callable and Go
# does not count it towards max-requests.
# ---------------------------------------------------------------------------

import inspect  # noqa: E402
import json  # noqa: E402


def handle_call(worker, stream, flags, payload):
    """Run one control call and send its CALL_RESULT."""
    try:
        env, rest = worker.environ(flags, payload)
        name, _, arg = bytes(rest).decode("utf-8").partition("\0")
        fn = CALLS.get(name)
        if fn is None:
            raise ValueError("unknown control call %r" % name)
        out = {"ok": True, "value": fn(worker, env, arg)}
        try:
            data = json.dumps(out, default=_json_default, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise TypeError("the %s call returned a value that is not JSON-serialisable: %s" % (name, exc)) from None
    except BaseException as exc:
        if worker.conn.forked:
            raise  # a child the app's hook forked: see Worker.handle
        data = json.dumps(
            {"ok": False, "error": describe(exc), "traceback": format_error(exc)}
        )
        if not isinstance(exc, Exception):
            worker.conn.send(CALL_RESULT, stream, data.encode("utf-8"))
            raise
    worker.conn.send(CALL_RESULT, stream, data.encode("utf-8"))


def _json_default(o):
    # Identity hooks may return dates, UUIDs or sets: say so instead of
    # guessing a representation.
    raise TypeError("%s object %s" % (type(o).__name__, safe_repr(o)))


def start_call(worker, stream, flags, payload):
    """Threaded workers: run calls on one long-lived thread of their own,
    so that frameworks keeping per-thread state (Django's database
    connections) reuse it instead of leaking a connection per call."""
    q = getattr(worker, "call_queue", None)
    if q is None:
        q = worker.call_queue = queue.SimpleQueue()

        def run():
            while True:
                try:
                    handle_call(worker, *q.get())
                except BaseException as exc:
                    exit_for(exc)  # as a request's thread does

        threading.Thread(target=run, name="graft-call", daemon=True).start()
    q.put((stream, flags, payload))


# --- the route map ---------------------------------------------------------

_WRAPPER_ATTRS = ("app", "application", "wsgi_app", "_app", "wrapped", "__wrapped__", "wsgi_application")


def _qualname(obj):
    t = obj if isinstance(obj, type) else type(obj)
    return "%s.%s" % (t.__module__, t.__qualname__)


def _framework(obj):
    if hasattr(obj, "url_map") and hasattr(obj, "view_functions") and "flask" in sys.modules:
        import flask

        if isinstance(obj, flask.Flask):
            return "flask"
    if "django.core.handlers.wsgi" in sys.modules:
        from django.core.handlers.wsgi import WSGIHandler

        if isinstance(obj, WSGIHandler):
            return "django"
    # The others by their class, if their module was imported at all.
    for module, cls, name in _FRAMEWORK_CLASSES:
        m = sys.modules.get(module)
        t = getattr(m, cls, None) if m is not None else None
        if isinstance(t, type) and isinstance(obj, t):
            return name
    return None


# (module, class, framework) of the other frameworks whose route map the
# worker reads: a Bottle app, a Falcon WSGI app, Pyramid's router (what
# Configurator.make_wsgi_app returns).
_FRAMEWORK_CLASSES = (
    ("bottle", "Bottle", "bottle"),
    ("falcon.app", "App", "falcon"),
    ("pyramid.router", "Router", "pyramid"),
)


def _label(obj):
    """How a wrapper is named in the route map: its class, or a function's
    own qualified name."""
    if inspect.isfunction(obj):
        return "%s.%s" % (obj.__module__, obj.__qualname__)
    return _qualname(obj)


def find_apps(app):
    """Find the framework apps behind WSGI wrappers: a list of
    (mount prefix, framework or None, app, [wrapper names])."""
    found = []
    seen = set()
    # Breadth first, so that the outermost framework app wins.
    todo = collections.deque([(app, "", [])])
    while todo:
        obj, mount, chain = todo.popleft()
        if id(obj) in seen or len(seen) > 1000:
            continue
        seen.add(id(obj))
        fw = _framework(obj)
        if fw is not None:
            found.append((mount, fw, obj, chain))
            continue
        mounts = getattr(obj, "mounts", None)
        if isinstance(mounts, dict) and hasattr(obj, "app"):
            # werkzeug's DispatcherMiddleware: an app, and apps by prefix.
            name = chain + [_qualname(obj)]
            todo.append((obj.app, mount, name))
            for prefix, sub in sorted(mounts.items()):
                todo.append((sub, mount + prefix, name))
            continue
        nexts = []
        owner = getattr(obj, "__self__", None)
        if owner is not None and inspect.ismethod(obj):
            nexts.append(owner)  # app.wsgi_app: the Flask app itself
        if not inspect.isroutine(obj) or owner is not None:
            for attr in _WRAPPER_ATTRS:
                try:
                    v = inspect.getattr_static(obj, attr)
                except AttributeError:
                    continue
                if v is not None and not isinstance(v, (str, bytes, int, float, type(None))):
                    try:
                        v = getattr(obj, attr)
                    except Exception:
                        continue
                    if callable(v) or _framework(v):
                        nexts.append(v)
        if inspect.isfunction(obj):
            for cell in obj.__closure__ or ():
                try:
                    v = cell.cell_contents
                except ValueError:
                    continue
                if callable(v) and not inspect.isclass(v) and not inspect.isbuiltin(v):
                    nexts.append(v)
            if getattr(obj, "__wrapped__", None) is not None:
                nexts.append(obj.__wrapped__)
        # A bound method stands for its object; anything else is a wrapper.
        name = chain if owner is not None else chain + [_label(obj)]
        for v in nexts:
            todo.append((v, mount, name))
    if not found:
        found.append(("", None, app, []))
    return found


def _source(obj):
    """(module, qualified name, file, line) of a view function or class."""
    target = obj
    try:
        target = inspect.unwrap(obj)
    except Exception:
        pass
    module = getattr(target, "__module__", "") or ""
    name = getattr(target, "__qualname__", "") or getattr(target, "__name__", "") or type(target).__name__
    path, line = "", 0
    try:
        path = inspect.getsourcefile(target) or ""
        if inspect.isclass(target):
            line = inspect.getsourcelines(target)[1]
        else:
            code = getattr(target, "__code__", None)
            line = code.co_firstlineno if code is not None else 0
    except (TypeError, OSError):
        pass
    return module, name, path, line


_FLASK_VAR = re.compile(r"<(?:(?P<conv>[a-zA-Z_][a-zA-Z0-9_]*)(?:\((?P<args>.*?)\))?:)?(?P<name>[a-zA-Z_][a-zA-Z0-9_]*)>")


def flask_routes(app):
    out = []
    for rule in app.url_map.iter_rules():
        if rule.build_only:
            continue  # it only builds URLs (url_for): Flask never serves it
        parts = []
        pos = 0
        text = rule.rule
        if getattr(rule, "merge_slashes", False):
            # werkzeug (2.2) matches the rule with its slashes merged, as
            # Rule.compile does: "//4" serves "/4"
            text = re.sub("/{2,}?", "/", text)
        for m in _FLASK_VAR.finditer(text):
            if m.start() > pos:
                parts.append({"text": text[pos : m.start()]})
            conv = rule._converters.get(m.group("name"))
            parts.append(
                {
                    "param": m.group("name"),
                    "converter": m.group("conv") or "default",
                    "args": m.group("args") or "",
                    "regex": getattr(conv, "regex", ""),
                    "class": _qualname(conv) if conv is not None else "",
                }
            )
            pos = m.end()
        if pos < len(text):
            parts.append({"text": text[pos:]})
        view = app.view_functions.get(rule.endpoint)
        module, name, path, line = _source(view) if view is not None else ("", "", "", 0)
        out.append(
            {
                "rule": text,
                "pieces": [{"kind": "flask", "parts": parts}],
                "methods": sorted(rule.methods or ()),
                "endpoint": rule.endpoint,
                "host": rule.host or rule.subdomain or "",
                "module": module,
                "view": name,
                "file": path,
                "line": line,
                "redirect": bool(rule.redirect_to),
                # False: the rule also serves its path with the trailing
                # slash added or removed, without a redirect.
                "strict_slashes": bool(rule.strict_slashes),
            }
        )
    return out


def _django_methods(view):
    """The methods a Django view declares, or None when it takes any."""
    cls = getattr(view, "view_class", None) or getattr(view, "cls", None)
    if cls is not None and hasattr(cls, "http_method_names"):
        names = [m for m in cls.http_method_names if hasattr(cls, m)]
        if "get" in names and "head" not in names:
            names.append("head")  # View.setup() maps HEAD to get()
        return sorted(m.upper() for m in names)
    fn = view
    for _ in range(20):
        code = getattr(fn, "__code__", None)
        if code is not None and "request_method_list" in code.co_freevars and fn.__closure__:
            cell = fn.__closure__[code.co_freevars.index("request_method_list")]
            try:
                return sorted(str(m).upper() for m in cell.cell_contents)
            except ValueError:
                break
        fn = getattr(fn, "__wrapped__", None)
        if fn is None:
            break
    return None


def _django_pieces(pattern):
    """The pieces a Django URL pattern stands for: one, or one per served
    language for the locale prefix of i18n_patterns()."""
    from django.urls.converters import get_converters
    from django.urls.resolvers import LocalePrefixPattern, RoutePattern

    if isinstance(pattern, LocalePrefixPattern):
        return [{"kind": "locale", "text": prefix, "language": lang} for lang, prefix in _locale_prefixes(pattern)]
    if isinstance(pattern, RoutePattern):
        names = {id(c): n for n, c in get_converters().items()}
        convs = {}
        for param, conv in pattern.converters.items():
            convs[param] = {"converter": names.get(id(conv), _qualname(conv)), "regex": getattr(conv, "regex", ""), "class": _qualname(conv)}
        return [{"kind": "django-route", "text": str(pattern._route), "converters": convs}]
    piece = {"kind": "regex", "text": pattern.regex.pattern}
    # RegexPattern.match: fullmatch() for an endpoint whose regex ends
    # with "$", search() otherwise (anchored only by a leading "^").
    if getattr(pattern, "_is_endpoint", False) and pattern.regex.pattern.endswith("$"):
        piece["fullmatch"] = True
    return [piece]


def _locale_prefixes(pattern):
    """(language, prefix) of every language prefix i18n_patterns() serves.

    LocalePrefixPattern matches the prefix of the language active at the
    time (its regex too, so reading it gives the language of the worker's
    last request): each prefix is read with its language activated, in a
    translation.override() that only touches this thread. Without
    LocaleMiddleware nothing activates a language per request: only
    settings.LANGUAGE_CODE's prefix is served. With it, a request's
    language comes from its path (get_language_from_path, which takes the
    languages of settings.LANGUAGES that Django finds a catalog for), and a
    path without one gets LANGUAGE_CODE when prefix_default_language is
    False, whose prefix is then "".
    """
    from django.conf import settings
    from django.middleware.locale import LocaleMiddleware
    from django.utils import translation
    from django.utils.module_loading import import_string

    def prefix(lang):
        with translation.override(lang):
            return pattern.language_prefix

    def is_locale(path):
        try:
            cls = import_string(path)
        except Exception:
            return False
        return isinstance(cls, type) and issubclass(cls, LocaleMiddleware)

    langs = []
    if not any(is_locale(m) for m in (getattr(settings, "MIDDLEWARE", None) or ())):
        langs.append(settings.LANGUAGE_CODE)
    else:
        if not pattern.prefix_default_language:
            langs.append(settings.LANGUAGE_CODE)
        for code, _ in settings.LANGUAGES:
            p = prefix(code)
            # The path prefix must activate a language with that prefix.
            got = translation.get_language_from_path("/" + p) if p else None
            if got is not None and prefix(got) == p:
                langs.append(got)
    out, seen = [], set()
    for lang in langs:
        p = prefix(lang)
        if p not in seen:
            seen.add(p)
            out.append((lang, p))
    return out


def django_routes(handler):
    from django.urls import URLPattern, URLResolver, get_resolver

    out = []

    def walk(patterns, pieces, namespace):
        for p in patterns:
            for piece in _django_pieces(p.pattern):
                if isinstance(p, URLResolver):
                    ns = namespace
                    if p.namespace:
                        ns = namespace + [p.namespace]
                    walk(p.url_patterns, pieces + [piece], ns)
                elif isinstance(p, URLPattern):
                    view = p.callback
                    module, name, path, line = _source(getattr(view, "view_class", None) or view)
                    full = ":".join(namespace + [p.name]) if p.name else ""
                    out.append(
                        {
                            "rule": "".join(x["text"] for x in pieces + [piece]),
                            "pieces": pieces + [piece],
                            "methods": _django_methods(view),
                            "endpoint": full,
                            "module": module,
                            "view": name,
                            "file": path,
                            "line": line,
                        }
                    )

    walk(get_resolver().url_patterns, [], [])
    return out


# --- Bottle, Falcon, Pyramid ---------------------------------------------------
#
# Their routes are sent as Flask's are: a rule cut into literal text and
# parameters, each with its converter (Bottle's filter, Falcon's
# converter; Pyramid's are all regexes), its arguments and the regex the
# framework matches it with; Go translates them (routepattern.go).


def _methods_with_head(methods):
    """Sorted methods, with HEAD where GET is (Bottle and Pyramid answer HEAD
    with the GET view)."""
    ms = {str(m).upper() for m in methods}
    if "GET" in ms:
        ms.add("HEAD")
    return sorted(ms)


def bottle_routes(app):
    """Bottle's app.routes, one route per rule, name and callback with its
    methods (Bottle keeps one Route per rule and method: GET and POST of
    one function are one route, as a Flask rule is; of two functions, two,
    as Flask lists two rules of one path with two endpoints), and the apps
    Bottle.mount() mounts: ([route], [(prefix, app)])."""
    import bottle

    # Bottle's own filters are lambdas made in Router.__init__: one made
    # here shares their code, an add_filter() replacement does not.
    builtin = {name: f.__code__ for name, f in bottle.Router().filters.items()}
    router = app.router
    out, mounted = [], []
    grouped = {}  # (rule, name, id(callback)) -> (its entry in out, its methods or None for ANY)
    for route in app.routes:
        target = route.config.get("mountpoint.target")
        if target is not None:
            # Bottle.mount(): a route for the prefix's rest (and one for the
            # prefix without its slash) that hands the request to the app.
            prefix = "/" + "/".join(p for p in str(route.config.get("mountpoint.prefix", "")).split("/") if p)
            if (prefix, target) not in mounted:
                mounted.append((prefix, target))
            continue
        parts = []
        for key, mode, conf in router._itertokens(route.rule):
            if not mode:  # literal text
                if key:
                    parts.append({"text": key})
                continue
            if mode == "default":  # <name> and :name
                mode = router.default_filter
            f = router.filters.get(mode)
            own = f is not None and getattr(f, "__code__", None) is builtin.get(mode)
            parts.append(
                {
                    "param": key,
                    "converter": mode,
                    "args": conf or "",
                    "regex": f(conf)[0] if f is not None else "",
                    "class": "" if own else (_label(f) if f is not None else "unknown filter " + mode),
                }
            )
        method = route.method.upper()
        key = (route.rule, route.name, id(route.callback))
        if key in grouped:
            entry, methods = grouped[key]
            # A GET route answers HEAD too; ANY answers every method.
            methods = None if methods is None or method == "ANY" else methods | {method}
            entry["methods"] = None if methods is None else _methods_with_head(methods)
            grouped[key] = (entry, methods)
            continue
        module, name, path, line = _source(route.get_undecorated_callback())
        entry = {
            "rule": route.rule,
            "pieces": [{"kind": "bottle", "parts": parts}],
            "methods": None if method == "ANY" else _methods_with_head([method]),
            "endpoint": route.name or "",
            "module": module,
            "view": name,
            "file": path,
            "line": line,
        }
        grouped[key] = (entry, None if method == "ANY" else {method})
        out.append(entry)
    return out, mounted


def _falcon_resources(app):
    """uri_template -> resource of a Falcon app's CompiledRouter (its nodes
    are not public; falcon.inspect lists the routes but not the resources)."""
    found = {}
    todo = list(getattr(getattr(app, "_router", None), "_roots", None) or ())
    while todo:
        node = todo.pop()
        if getattr(node, "resource", None) is not None and getattr(node, "uri_template", None):
            found.setdefault(node.uri_template, node.resource)
        todo.extend(getattr(node, "children", None) or ())
    return found


def falcon_routes(app):
    """A Falcon App's routes, as falcon.inspect (the documented way) lists
    them: template and responders."""
    from falcon import inspect as falcon_inspect
    from falcon.routing.compiled import _FIELD_PATTERN

    resources = _falcon_resources(app)
    out = []
    for info in falcon_inspect.inspect_routes(app):
        parts = []
        segments = info.path.split("/")
        for i, seg in enumerate(segments):
            if i > 0:
                parts.append({"text": "/"})
            fields = list(_FIELD_PATTERN.finditer(seg))
            # A segment that is one field alone is matched whole (the
            # converter, if any, decides; without one any text, even
            # empty); fields among text are a regex's (?P<name>.+).
            simple = len(fields) == 1 and fields[0].span() == (0, len(seg))
            pos = 0
            for m in fields:
                if m.start() > pos:
                    parts.append({"text": seg[pos : m.start()]})
                parts.append(
                    {
                        "param": m.group("fname"),
                        "converter": (m.group("cname") or "default") if simple else "complex",
                        "args": m.group("argstr") or "",
                        "regex": "" if simple else ".+",
                        "class": "",
                    }
                )
                pos = m.end()
            if pos < len(seg):
                parts.append({"text": seg[pos:]})
        # The responders the resource defines, and OPTIONS, which Falcon's
        # default responder answers (the other defaults answer 405).
        methods = [m.method for m in info.methods if not m.internal or m.function_name == "options_responder"]
        resource = resources.get(info.path)
        module, name, path, line = _source(type(resource)) if resource is not None else ("", info.class_name, "", 0)
        out.append(
            {
                "rule": info.path,
                "pieces": [{"kind": "falcon", "parts": parts}],
                "methods": sorted(set(methods)),
                "endpoint": "",
                "module": module,
                "view": name,
                "file": path,
                "line": line,
            }
        )
    return out


def _pyramid_parts(pattern):
    """A Pyramid route pattern cut as pyramid.urldispatch._compile_route
    cuts it (with the module's own regexes): literal text, {name} and
    {name:regex} parameters, and a *stararg at the end."""
    from pyramid import urldispatch as ud

    route = pattern
    if ud.old_route_re.search(route) and not ud.route_re.search(route):
        route = ud.old_route_re.sub(ud.update_pattern, route)  # :name
    if not route.startswith("/"):
        route = "/" + route
    star = None
    if ud.star_at_end.search(route):
        route, star = route.rsplit("*", 1)
    pieces = ud.route_re.split(route)
    parts = []
    for i, piece in enumerate(pieces):
        if i % 2 == 0:
            if piece:
                parts.append({"text": piece})
            continue
        name, colon, reg = piece[1:-1].partition(":")
        parts.append({"param": name, "converter": "regex" if colon else "default", "args": "", "regex": reg if colon else "[^/]+", "class": ""})
    if star:  # "*" with no name matches nothing more
        parts.append({"param": star, "converter": "*", "args": "", "regex": ".*?", "class": ""})
    return parts


def pyramid_routes(router):
    """A Pyramid app's URL dispatch routes, in matching order: the route
    mapper's, with the methods of the route's request_method predicate and
    of its views (from the introspector)."""
    from pyramid.interfaces import IRoutesMapper
    from pyramid.predicates import RequestMethodPredicate

    registry = router.registry
    mapper = registry.queryUtility(IRoutesMapper)
    if mapper is None:
        return []
    intr = registry.introspector
    introspected = {}
    for item in intr.get_category("routes") or ():
        i = item["introspectable"]
        introspected[i["name"]] = [r for r in intr.related(i) if r.category_name == "views"]
    out = []
    for route in mapper.get_routes():  # static (URL-generation only) routes are left out
        methods = None
        for p in route.predicates:
            if isinstance(p, RequestMethodPredicate):
                methods = set(p.val)
        views = introspected.get(route.name)
        if views is not None:
            if not views:
                continue  # no view: Pyramid answers 404, it serves nothing
            view_methods = set()
            for v in views:
                rm = v["request_methods"]
                if rm is None:
                    view_methods = None
                    break
                view_methods.update([rm] if isinstance(rm, str) else rm)
            if view_methods is not None:
                methods = view_methods if methods is None else methods & view_methods
        view = views[0]["callable"] if views else None
        module, name, path, line = _source(view) if view is not None else ("", "", "", 0)
        out.append(
            {
                "rule": route.pattern,
                "pieces": [{"kind": "pyramid", "parts": _pyramid_parts(route.pattern)}],
                "methods": None if methods is None else _methods_with_head(methods),
                "endpoint": route.name,
                "module": module,
                "view": name,
                "file": path,
                "line": line,
            }
        )
    return out


def call_routes(worker, env, arg):
    apps = []
    todo = collections.deque(find_apps(worker.app))
    while todo:
        mount, fw, obj, chain = todo.popleft()
        entry = {"mount": mount, "framework": fw or "unknown", "wrappers": chain, "class": _qualname(obj)}
        if fw == "flask":
            entry["routes"] = flask_routes(obj)
        elif fw == "django":
            entry["routes"] = django_routes(obj)
        elif fw == "bottle":
            entry["routes"], mounted = bottle_routes(obj)
            # Bottle.mount(): the mounted app's routes under its prefix.
            for prefix, target in mounted:
                for sub_mount, sub_fw, sub, sub_chain in find_apps(target):
                    todo.append((mount + prefix + sub_mount, sub_fw, sub, chain + [_qualname(obj)] + sub_chain))
        elif fw == "falcon":
            entry["routes"] = falcon_routes(obj)
        elif fw == "pyramid":
            entry["routes"] = pyramid_routes(obj)
        else:
            entry["routes"] = []
        apps.append(entry)
    return {"apps": apps}


# --- identity ----------------------------------------------------------------


def identity_django(environ):
    """graft:django: the user of Django's session and auth middleware, or
    None for an anonymous request. Runs Django's request_started and
    request_finished signals around the lookup, as a request would (they
    manage the database connections)."""
    from django.contrib.auth import get_user
    from django.contrib.sessions.middleware import SessionMiddleware
    from django.core import signals
    from django.core.handlers.wsgi import WSGIRequest

    signals.request_started.send(sender=identity_django, environ=environ)
    try:
        request = WSGIRequest(environ)
        SessionMiddleware(lambda r: None).process_request(request)
        user = request.user = get_user(request)
        mw = _django_remote_user_middleware()
        if mw is not None:
            user = _django_remote_user(request, mw, user)
        if not getattr(user, "is_authenticated", False):
            return None
        pk = user.pk
        return {
            "id": pk if isinstance(pk, (int, str)) else str(pk),
            "username": user.get_username(),
            "is_staff": bool(getattr(user, "is_staff", False)),
            "is_superuser": bool(getattr(user, "is_superuser", False)),
            "groups": sorted(g.name for g in user.groups.all()) if hasattr(user, "groups") else [],
        }
    finally:
        signals.request_finished.send(sender=identity_django)


def vary_django():
    """What graft:django's answers depend on: the session cookie (the
    session's content, the user and its session hash are read through
    it) and, with a RemoteUserMiddleware in MIDDLEWARE, the environ key its
    header names: REMOTE_USER (set by Go's middleware.WithRemoteUser), or
    a request header (HTTP_*) for a subclass reading a front proxy's."""
    from django.conf import settings

    vary = {"cookies": [settings.SESSION_COOKIE_NAME]}
    mw = _django_remote_user_middleware()
    if mw is None:
        return vary
    key = mw.header
    if key in ("REMOTE_USER", "AUTH_TYPE") or key.startswith("graft."):
        vary["environ"] = [key]
    elif key.startswith("HTTP_") or key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        vary["headers"] = [(key[5:] if key.startswith("HTTP_") else key).replace("_", "-")]
    else:
        return {"no_cache": "the app's %s reads the environ key %s" % (_qualname(mw), key)}
    return vary


def _django_remote_user_middleware():
    """An instance of the RemoteUserMiddleware (or subclass, the persistent
    one included) in settings.MIDDLEWARE, or None; looked up once."""
    if _django_rum:
        return _django_rum[0]
    from django.conf import settings
    from django.contrib.auth.middleware import RemoteUserMiddleware
    from django.utils.module_loading import import_string

    found = None
    for path in settings.MIDDLEWARE:
        try:
            cls = import_string(path)
        except ImportError:
            continue  # the app's own handler fails to load it, loudly
        if isinstance(cls, type) and issubclass(cls, RemoteUserMiddleware):
            if cls.process_request is not RemoteUserMiddleware.process_request:
                raise RuntimeError(
                    "graft:django: %s (settings.MIDDLEWARE) overrides RemoteUserMiddleware.process_request, "
                    "which graft:django cannot run without its side effects (auth.login writes the session); "
                    "use an identity hook of the app's own (Config.IdentityHook module:function)" % path)
            found = cls(lambda r: None)
            break
    _django_rum.append(found)
    return found


_django_rum = []  # [the RemoteUserMiddleware instance, or None], once looked up


def _django_remote_user(request, mw, user):
    """The user Django's RemoteUserMiddleware.process_request (mw's class,
    its header, force_logout_if_no_header and clean_username) leaves in
    request.user after AuthenticationMiddleware found user, with the
    app's authentication backends (RemoteUserBackend creates an unknown
    user, as for the app's own requests); without its writes: auth.login
    and auth.logout would change the session, which a lookup must not."""
    from django.contrib import auth
    from django.contrib.auth.models import AnonymousUser

    def remote_session():
        # RemoteUserMiddleware._remove_invalid_user: the session's user is
        # logged out only when a RemoteUserBackend logged it in.
        from django.contrib.auth.backends import RemoteUserBackend

        try:
            backend = auth.load_backend(request.session.get(auth.BACKEND_SESSION_KEY, ""))
        except ImportError:
            return True
        return isinstance(backend, RemoteUserBackend)

    try:
        username = request.META[mw.header]
    except KeyError:
        if mw.force_logout_if_no_header and user.is_authenticated and remote_session():
            return AnonymousUser()
        return user
    if user.is_authenticated:
        if user.get_username() == mw.clean_username(username, request):
            return user
        if remote_session():
            user = request.user = AnonymousUser()
    found = auth.authenticate(request, remote_user=username)
    return found if found else user


def identity_flask(environ):
    """graft:flask: Flask's session (as the app's session interface opens
    it: signed and checked with its SECRET_KEY) and flask-login's user
    id, or None when the session is empty and flask-login finds no user.

    When the app has a flask-login LoginManager, its user is the one
    current_user loads for the request, as for the app's own views: from
    the session's _user_id through the user_loader (None for a deleted
    user), else from the remember cookie (REMEMBER_COOKIE_NAME), a
    request_loader or the auth header, with SESSION_PROTECTION applied.
    That runs in a request context, and an app context, of the lookup's
    own (a fresh g, even in an app that left an app context pushed), and no
    response is made: what flask-login writes (the session's _user_id and
    _fresh after a remember cookie, the cookie's refresh in after_request)
    is dropped with them. Without a LoginManager (flask-login not imported,
    or not set up on this app) user_id is the session's _user_id.

    With a LoginManager, fresh is flask-login's login_fresh() for the
    request (false once SESSION_PROTECTION "basic" finds the session
    replayed by another client)."""
    app = _flask_app()
    login = sys.modules.get("flask_login")
    manager = getattr(app, "login_manager", None) if login is not None else None
    if manager is None or not isinstance(manager, login.LoginManager):
        manager = None
    reads = _Reads(environ) if _flask_dynamic(manager, login) else None
    with app.app_context(), app.request_context(environ if reads is None else reads) as ctx:
        sess = ctx.session  # opened by push(), as for a request
        data = _jsonable(dict(sess)) if sess else {}  # before flask-login writes to it
        if manager is None:
            if not data:
                return None
            return {"user_id": data.get("_user_id"), "session": data}
        if reads is not None:
            reads.watch(ctx.request)
        try:
            user = login.current_user._get_current_object()
            user_id = user.get_id() if user.is_authenticated else None
            fresh = bool(login.login_fresh())
        finally:
            if reads is not None:
                reads.on = False
                # What this answer depends on, for call_identity: what
                # flask-login and the app's loaders read, and the cookies.
                environ[_READS_KEY] = reads.vary(vary_flask(static=True))
        if user_id is None and not data:
            return None
        return {"user_id": _jsonable(user_id), "session": data, "fresh": fresh}


_READS_KEY = "graft.identity_reads"  # identity_flask's recorded vary, for call_identity


def _flask_dynamic(manager, login):
    """Whether flask-login finds users in ways only recording tells (a
    request_loader, a header_loader, a session_identifier_generator of the
    app's own): then identity_flask records what the lookup reads."""
    if manager is None:
        return False
    return (getattr(manager, "_request_callback", None) is not None
            or getattr(manager, "_header_callback", None) is not None
            or manager._session_identifier_generator is not login.utils._create_identifier)


class _Reads(dict):
    """The environ of a graft:flask lookup whose user flask-login may find
    in any part of the request (a request_loader): it records, while on,
    which parts flask-login and the app's loaders read, through the
    environ, the request's attributes set from it at construction, its
    parsed cookies and query arguments, so that Go's cache keys on exactly
    those (see vary). A read that Go cannot key on (the path, the body, the
    whole environ) turns the cache off for the answer."""

    # The request's attributes werkzeug sets from the environ when it
    # makes the request (or Flask when it routes it), and the key each
    # stands for.
    ATTRS = (("method", "REQUEST_METHOD"), ("scheme", "wsgi.url_scheme"), ("server", "SERVER_NAME"),
             ("root_path", "SCRIPT_NAME"), ("path", "PATH_INFO"), ("query_string", "QUERY_STRING"),
             ("remote_addr", "REMOTE_ADDR"), ("url_rule", "PATH_INFO"), ("view_args", "PATH_INFO"),
             ("routing_exception", "PATH_INFO"))

    def __init__(self, env):
        dict.__init__(self, env)
        self.on = False
        self.keys_read = set()
        self.cookies_read = set()
        self.whole = None  # what was read whole, if anything

    def note(self, key):
        if self.on:
            self.keys_read.add(key)

    def note_whole(self, what):
        if self.on and self.whole is None:
            self.whole = what

    def __getitem__(self, k):
        self.note(k)
        return dict.__getitem__(self, k)

    def get(self, k, default=None):
        self.note(k)
        return dict.get(self, k, default)

    def __contains__(self, k):
        self.note(k)
        return dict.__contains__(self, k)

    def pop(self, k, *default):
        self.note(k)
        return dict.pop(self, k, *default)

    def setdefault(self, k, default=None):
        self.note(k)
        return dict.setdefault(self, k, default)

    def __iter__(self):
        self.note_whole("the whole environ")
        return dict.__iter__(self)

    def keys(self):
        self.note_whole("the whole environ")
        return dict.keys(self)

    def items(self):
        self.note_whole("the whole environ")
        return dict.items(self)

    def values(self):
        self.note_whole("the whole environ")
        return dict.values(self)

    def copy(self):
        self.note_whole("the whole environ")
        return dict(dict.items(self))

    def __len__(self):
        self.note_whole("the whole environ")
        return dict.__len__(self)

    def watch(self, request):
        """Starts recording, request being the lookup's: its attributes
        made from the environ become recorded reads, its cookies (parsed
        already, by the session) a recorded dict, and the properties it
        cached are dropped, to be read again through the environ."""
        from werkzeug.utils import cached_property

        cls = type(request)
        cookies = request.cookies  # parsed by the session interface already
        for name in list(request.__dict__):
            if isinstance(getattr(cls, name, None), cached_property):
                del request.__dict__[name]
        request.__class__ = _reads_request_class(cls)
        request.__dict__["cookies"] = _reads_multidict(cookies, self, "cookies")
        self.on = True

    def vary(self, static, skip=(), who="the app's flask-login loaders"):
        """What the answer depends on: static (the app's cookies) and what
        was read, as identityVary says it; or no_cache, why not, saying
        who read it. Keys starting with a prefix in skip are caches of the
        request object (webob's webob.*) made from keys read with them."""
        if self.whole is not None:
            return {"no_cache": "%s read %s" % (who, self.whole)}
        vary = {"cookies": sorted(set(static.get("cookies", [])) | self.cookies_read),
                "headers": [], "environ": [], "remote_addr": False, "query": False}
        for key in sorted(self.keys_read):
            if key == "QUERY_STRING":
                vary["query"] = True
            elif key == "REMOTE_ADDR":
                vary["remote_addr"] = True
            elif key.startswith("HTTP_"):
                vary["headers"].append(key[5:].replace("_", "-"))
            elif key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                vary["headers"].append(key.replace("_", "-"))
            elif key in ("REMOTE_USER", "AUTH_TYPE") or key.startswith("graft."):
                vary["environ"].append(key)
            elif key == _READS_KEY or key.startswith(skip):
                continue
            else:
                what = "the request body" if key.startswith("wsgi.input") else "the environ's %s" % key
                return {"no_cache": "%s read %s" % (who, what)}
        return vary


_reads_classes = {}


def _reads_request_class(cls):
    """cls with _Reads.ATTRS as properties that note their environ key."""
    sub = _reads_classes.get(cls)
    if sub is None:
        def prop(name, key):
            def get(self):
                env = self.__dict__.get("environ")
                if isinstance(env, _Reads):
                    env.note(key)
                try:
                    return self.__dict__[name]
                except KeyError:
                    return getattr(cls, name, None)  # Flask's class defaults (url_rule None)

            def put(self, value):
                self.__dict__[name] = value

            return property(get, put)

        sub = type(cls.__name__, (cls,), {name: prop(name, key) for name, key in _Reads.ATTRS})
        _reads_classes[cls] = sub
    return sub


def _reads_multidict(d, reads, what):
    """A copy of the parsed MultiDict d (the request's cookies) whose reads
    by name go to reads.cookies_read; a read of it whole is a read of the
    whole Cookie header."""
    cls = _reads_dict_classes.get(type(d))
    if cls is None:
        base = type(d)

        def by_name(m):
            def f(self, k, *a, **kw):
                r = self.__dict__.get("_graft_reads")
                if r is not None and r.on:
                    r.cookies_read.add(str(k))
                return m(self, k, *a, **kw)

            return f

        def whole(m):
            def f(self, *a, **kw):
                r = self.__dict__.get("_graft_reads")
                if r is not None:
                    r.note("HTTP_COOKIE")
                return m(self, *a, **kw)

            return f

        ns = {}
        for name in ("__getitem__", "get", "getlist", "__contains__", "pop", "poplist"):
            if hasattr(base, name):
                ns[name] = by_name(getattr(base, name))
        for name in ("__iter__", "keys", "items", "values", "lists", "listvalues", "to_dict", "__len__", "copy", "__repr__"):
            if hasattr(base, name):
                ns[name] = whole(getattr(base, name))
        cls = _reads_dict_classes[base] = type(base.__name__, (base,), ns)
    out = cls(d)
    out.__dict__["_graft_reads"] = reads
    return out


_reads_dict_classes = {}

def vary_flask(static=False):
    """What graft:flask's answers depend on, for Go's identity cache: the
    cookies the app reads its users from (its session cookie and, with a
    LoginManager, flask-login's remember cookie), and what flask-login's
    SESSION_PROTECTION hashes (the client's address and User-Agent). An
    app whose flask-login has a request_loader, a header_loader or a
    session_identifier_generator of its own may read any part of the
    request: identity_flask records what each lookup read (_Reads), and
    static=True gives the cookies to add to it."""
    app = _flask_app()
    get_name = getattr(app.session_interface, "get_cookie_name", None)
    cookies = [get_name(app) if get_name is not None else app.config.get("SESSION_COOKIE_NAME") or "session"]
    login = sys.modules.get("flask_login")
    manager = getattr(app, "login_manager", None) if login is not None else None
    if manager is None or not isinstance(manager, login.LoginManager):
        return {"cookies": cookies}
    cookies.append(app.config.get("REMEMBER_COOKIE_NAME") or login.COOKIE_NAME)
    vary = {"cookies": cookies}
    if static:
        return vary  # _Reads.vary adds what the lookup read
    if _flask_dynamic(manager, login):  # identity_flask reports what it read instead
        return {"no_cache": "the app's flask-login loaders may read any part of the request"}
    if app.config.get("SESSION_PROTECTION", manager.session_protection) in ("basic", "strong"):
        # flask-login's _create_identifier: X-Forwarded-For (its first
        # address), else REMOTE_ADDR, and the User-Agent.
        vary["headers"] = ["User-Agent", "X-Forwarded-For"]
        vary["remote_addr"] = True
    return vary


def _flask_app():
    if _flask[0] is None:
        found = [a for _, fw, a, _ in find_apps(_worker_app[0]) if fw == "flask"]
        if not found:
            raise RuntimeError("graft:flask: the WSGI app is not (and does not wrap) a Flask app")
        _flask[0] = found[0]
    return _flask[0]


_flask = [None]


def _jsonable(v):
    """Session values as JSON: what Flask's tagged JSON can hold (tuples,
    bytes, datetimes, UUIDs, Markup) in their plain JSON form."""
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, bytes):
        import base64

        return base64.b64encode(v).decode("ascii")
    if hasattr(v, "isoformat"):
        return v.isoformat()
    if v is None or isinstance(v, (bool, int, float, str)):
        return v if not isinstance(v, str) else str(v)
    return str(v)


def identity_pyramid(environ):
    """graft:pyramid: the request's authenticated user, as Pyramid's
    security policy finds it (request.authenticated_userid), and the
    content of its session (request.session, from the app's session
    factory), or None when there is neither.

    The request is the one the app's Router makes (its request factory,
    registry and request methods, threadlocals pushed), so the policy runs
    as for the app's own views: a Pyramid 2 ISecurityPolicy (with
    AuthTktCookieHelper, SessionAuthenticationHelper or the app's own
    code), or the authentication policy of Pyramid 1 (AuthTkt, Session,
    BasicAuth, RemoteUser, the app's own) through Pyramid's legacy bridge.
    No response is made: what the lookup would write (a reissued auth_tkt,
    a renewed session cookie) is dropped; the request's finished
    callbacks run, as after a request. Every lookup records what it read
    of the request (cookies by name, headers, the client's address,
    REMOTE_USER, the query), for Go's cache to key on, as graft:flask
    does for flask-login's request_loader."""
    from pyramid.interfaces import ISessionFactory

    router = _pyramid_router()
    reads = _Reads(environ)
    request = router.request_factory(environ)  # webob wants a plain dict
    request.registry = router.registry
    request.invoke_subrequest = router.invoke_subrequest
    if router.request_extensions is not None:
        from pyramid.request import apply_request_extensions

        apply_request_extensions(request, extensions=router.request_extensions)
    request.__dict__["environ"] = reads
    request.__class__ = _pyramid_request_class(type(request))
    from pyramid.threadlocal import RequestContext

    try:
        with RequestContext(request):
            reads.on = True
            try:
                user_id = request.authenticated_userid
                has_session = router.registry.queryUtility(ISessionFactory) is not None
                data = _jsonable(dict(request.session)) if has_session else {}
            finally:
                reads.on = False
                environ[_READS_KEY] = reads.vary({"cookies": []}, skip=("webob.",),
                                                 who="the app's Pyramid security policy or session factory")
    finally:
        router.finish_request(request)
    if user_id is None and not data:
        return None
    return {"user_id": _jsonable(user_id), "session": data}


def vary_pyramid():
    """What graft:pyramid's answers depend on: identity_pyramid records it
    with each answer (a security policy may read any part of the request);
    this is only the static part, none."""
    return {"cookies": []}


_pyramid_classes = {}


def _pyramid_request_class(cls):
    """cls whose cookies note, by name, what a lookup reads of them in the
    environ's _Reads (webob's cookies read the whole Cookie header)."""
    sub = _pyramid_classes.get(cls)
    if sub is None:
        from webob.cookies import RequestCookies

        class Cookies(RequestCookies):
            def _named(m):
                def f(self, name, *a, **kw):
                    reads = self._environ
                    was = reads.on
                    reads.on = False
                    try:
                        return m(self, name, *a, **kw)
                    finally:
                        reads.on = was
                        if was:
                            reads.cookies_read.add(str(name))

                return f

            __getitem__ = _named(RequestCookies.__getitem__)
            get = _named(RequestCookies.get)
            __contains__ = _named(RequestCookies.__contains__)

        def cookies(self):
            env = self.environ
            return Cookies(env) if isinstance(env, _Reads) else RequestCookies(env)

        sub = type(cls.__name__, (cls,), {"cookies": property(cookies)})
        _pyramid_classes[cls] = sub
    return sub


def _pyramid_router():
    if _pyramid[0] is None:
        found = [a for _, fw, a, _ in find_apps(_worker_app[0]) if fw == "pyramid"]
        if not found:
            raise RuntimeError("graft:pyramid: the WSGI app is not (and does not wrap) a Pyramid app")
        _pyramid[0] = found[0]
    return _pyramid[0]


_pyramid = [None]


IDENTITY_HOOKS = {"graft:django": identity_django, "graft:flask": identity_flask,
                  "graft:pyramid": identity_pyramid}
# What the answers of graft's hooks depend on (see call_identity).
IDENTITY_VARY = {identity_django: vary_django, identity_flask: vary_flask, identity_pyramid: vary_pyramid}
_worker_app = [None]  # the loaded app, for hooks that need it
_hooks = {}


def load_hook(spec):
    fn = _hooks.get(spec)
    if fn is not None:
        return fn
    fn = IDENTITY_HOOKS.get(spec)
    if fn is None and spec.startswith("graft:"):
        raise ValueError("unknown identity hook %r; graft ships %s" % (spec, ", ".join(sorted(IDENTITY_HOOKS))))
    if fn is None:
        module, sep, attr = spec.partition(":")
        if not sep or not module or not attr:
            raise ValueError("identity hook %r is not module:function" % spec)
        __import__(module)
        fn = sys.modules[module]
        for part in attr.split("."):
            try:
                fn = getattr(fn, part)
            except AttributeError:
                raise AttributeError("identity hook %r: module %r has no attribute %r" % (spec, module, attr)) from None
        if not callable(fn):
            raise TypeError("identity hook %r names a %s, which is not callable" % (spec, type(fn).__name__))
    _hooks[spec] = fn
    return fn


def load_start_hook(spec):
    """Loads Config.IdentityHook once the app is loaded, so that a hook that
    cannot be loaded (a typo, a module that fails to import, an object that
    is not callable) fails the start as the app would, instead of every
    lookup; a preload process's workers inherit it loaded."""
    try:
        load_hook(spec)
    except Exception as exc:
        msg = str(exc)
        named = "identity hook %r: " % spec  # load_hook's own messages
        if msg.startswith(named):
            msg = msg[len(named):]
        raise ImportError("identity hook %r (Config.IdentityHook) cannot be loaded: %s: %s"
                          % (spec, type(exc).__name__, msg)) from exc


def call_identity(worker, env, hook):
    """The hook's answer for the request of env, as {"identity": answer};
    for graft's own hooks with "vary" too: what the answer depends on
    (vary_django, vary_flask), which Go's identity cache keys on."""
    _worker_app[0] = worker.app
    env["wsgi.input"] = io.BytesIO(b"")
    errors = env["wsgi.errors"] = ErrorStream(worker.errors_log)
    # The hook runs for a request: what it logs and prints carries the
    # request's id (Serving), as the app's own lines for it do.
    outer, serving.env = serving.env, env
    try:
        fn = load_hook(hook)
        value = fn(env)
        vary = IDENTITY_VARY.get(fn)
        out = {"identity": value}
        if vary is not None:
            reads = env.pop(_READS_KEY, None)  # identity_flask's recorded vary
            out["vary"] = reads if reads is not None else vary()
    finally:
        try:
            errors.flush()
        finally:
            serving.env = outer
    if value is not None and not isinstance(value, dict):
        raise TypeError("identity hook %r returned a %s; want a dict or None" % (hook, type(value).__name__))
    return out


CALLS = {"routes": call_routes, "identity": call_identity}

# ---------------------------------------------------------------------------
# End of control calls.
# ---------------------------------------------------------------------------


# The signals a worker drops (see main and ChildGuard.drop_signal), with
# the handler a process the app forks gets back.
DROPPED_SIGNALS = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: signal.SIG_DFL}


def main():
    # argv: mode (worker|zygote), app spec, threads, multiprocess (0/1),
    # the largest body frame in bytes, the identity hook ("" for none),
    # then sys.path entries to put first.
    mode, spec, threads, multiprocess = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
    chunk = int(sys.argv[5])
    hook = sys.argv[6]
    for p in reversed(sys.argv[7:]):
        sys.path.insert(0, p)
    conn = Conn(go_socket(3))

    # Python-level logging goes to Go as LOG frames, and what Python code
    # writes to sys.stdout and sys.stderr as STDIO frames on the same
    # socket, so that they keep their order; a fatal signal or a SIGUSR1
    # from Go (request timeout, slow request) dumps every thread's stack to
    # the descriptor of stderr, the output pipe, which Go also logs.
    stdio = install_stdio(conn)
    whole_tracebacks()
    log_handler = GoLogHandler(conn)
    logging.getLogger().addHandler(log_handler)
    keep_basic_config(log_handler)
    install_record_ids()
    install_dumps()
    # Go decides when workers stop: after draining, it closes their sockets.
    # SIGINT and SIGTERM are dropped, so that a SIGTERM sent to every
    # process of the service at once (systemd's KillMode=control-group)
    # leaves the requests in flight to finish while Go drains. Dropped by a
    # handler that does nothing, not by SIG_IGN, which the app's child
    # processes would inherit across exec (a child it forks gets the
    # defaults back: ChildGuard); with SA_RESTART (siginterrupt False), so
    # that the system calls of C extensions are not cut short.
    # A process the app forks never speaks to Go (ChildGuard).
    guard = ChildGuard(log_handler, stdio)
    for sig in DROPPED_SIGNALS:
        signal.signal(sig, guard.drop_signal)
        signal.siginterrupt(sig, False)
    if mode == "zygote":
        set_pdeathsig()

    problem = python_problem()
    if problem:
        conn.send(FAIL, 0, problem.encode("utf-8", "replace"))
        leave(3)
    stop_marks = mark_dumps()  # a dump of an import that hangs ends at DUMP_END
    try:
        app = load_app(spec)
        if hook:
            load_start_hook(hook)
    except BaseException as exc:
        conn.send(FAIL, 0, format_error(exc).encode("utf-8", "replace"))
        leave(3)
    if mode == "zygote":
        conn.send(READY, 0, ("%d" % os.getpid()).encode())
        zygote(conn, app, threads, multiprocess, chunk, guard, stop_marks)
    serve_worker(conn, app, threads, multiprocess, chunk)


if __name__ == "__main__":
    main()
