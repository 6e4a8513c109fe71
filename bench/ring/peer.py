"""The Python peer of bench/ring: answers small frames from Go.

Run by bench/ring (go run ./bench/ring, or its test), never by hand:

    python3 peer.py sock             # fd 3: one end of an AF_UNIX socketpair
    python3 peer.py ring SIZE SPIN [eventfd]
                                     # fd 3: a sealed memfd of SIZE bytes
                                     # holding two rings (ring_linux_amd64.go);
                                     # SPIN: ns to poll before sleeping;
                                     # eventfd: sleep on fd 4, wake Go
                                     # through fd 5, instead of futexes

Frames are an 8-byte header, '<IHBB': payload length, stream, op, flags,
then the payload. Ops (frame.go has the same constants):

    PING  payload = u32 want | bytes; the answer is payload[::-1][:want],
          after burning `flags` microseconds of CPU (the app's work)
    STATS answer: u64 utime_us | u64 stime_us of this process
    QUIT  exit 0

A protocol error (an unknown op, a frame over 4096 bytes, a full ring)
is printed to stderr and ends the peer with status 2; Go then sees the
socket's EOF, or, on the ring, the process's exit.

Only the standard library: socket, mmap, ctypes (for the futex system
call) and threading (for a memory fence, see fence()).
"""

import os
import resource
import struct
import sys
import time

HEADER = struct.Struct('<IHBB')
OP_PING, OP_STATS, OP_QUIT = 1, 2, 3
MAX_PAYLOAD = 4096

perf_ns = time.perf_counter_ns


class ProtocolError(Exception):
    pass


def handle(op, flags, payload):
    """Answers one frame: (op, payload) of the reply, or None to exit."""
    if op == OP_PING:
        if len(payload) < 4:
            raise ProtocolError('PING payload of %d bytes' % len(payload))
        want = int.from_bytes(payload[:4], 'little')
        if want > len(payload):
            raise ProtocolError('PING wants %d of %d bytes' % (want, len(payload)))
        if flags:
            end = perf_ns() + flags * 1000
            while perf_ns() < end:
                pass
        return OP_PING, payload[::-1][:want]
    if op == OP_STATS:
        ru = resource.getrusage(resource.RUSAGE_SELF)
        return OP_STATS, struct.pack('<QQ', int(ru.ru_utime * 1e6), int(ru.ru_stime * 1e6))
    if op == OP_QUIT:
        return None
    raise ProtocolError('unknown op %d' % op)


# --- (a) the socketpair: blocking recv, one sendall per answer ---------------

def serve_sock():
    import socket
    sock = socket.socket(fileno=3)
    recv_into, sendall = sock.recv_into, sock.sendall
    unpack_from, pack = HEADER.unpack_from, HEADER.pack
    buf = bytearray(1 << 18)
    view = memoryview(buf)
    have = 0
    while True:
        n = recv_into(view[have:])
        if n == 0:
            return  # Go closed its end: exit quietly
        have += n
        off = 0
        while have - off >= 8:
            length, stream, op, flags = unpack_from(buf, off)
            if length > MAX_PAYLOAD:
                raise ProtocolError('frame of %d bytes' % length)
            end = off + 8 + length
            if end > have:
                break
            payload = bytes(view[off + 8:end])
            off = end
            out = handle(op, flags, payload)
            if out is None:
                return
            sendall(pack(len(out[1]), stream, out[0], 0) + out[1])
        if off:
            buf[:have - off] = buf[off:have]
            have -= off


# --- (b), (c) two SPSC rings in shared memory, futex wake-ups ---------------
#
# The layout, in bytes (ring_linux.go's constants):
#   0    req tail   u32, written by Go; the word Python sleeps on
#   64   req sleep  u32, 1 while Python is (about to be) asleep
#   128  req head   u32, written by Python
#   256  resp tail  u32, written by Python; the word Go sleeps on
#   320  resp sleep u32, 1 while Go is (about to be) asleep
#   384  resp head  u32, written by Go
#   4096           request data, CAP bytes
#   4096 + CAP     response data, CAP bytes
# Indices run free (mod 2**32); a position is index & (CAP - 1); frames
# are 8-byte aligned and may wrap around the end of their ring.

REQ_TAIL, REQ_SLEEP, REQ_HEAD = 0, 64, 128
RESP_TAIL, RESP_SLEEP, RESP_HEAD = 256, 320, 384
DATA = 4096
SYS_FUTEX = 202  # x86-64; the ring is x86-64 only (see fence())
FUTEX_WAIT, FUTEX_WAKE = 0, 1


def serve_ring(size, spin_ns, eventfds):
    import ctypes
    import mmap
    import platform
    import select
    import threading

    if platform.machine() not in ('x86_64', 'AMD64'):
        raise ProtocolError('the shared-memory ring relies on x86-64 store ordering, not %s' % platform.machine())
    cap = (size - DATA) // 2
    if cap <= 0 or cap & (cap - 1):
        raise ProtocolError('bad ring size %d' % size)
    mask = cap - 1
    mm = mmap.mmap(3, size)
    u32 = ctypes.c_uint32
    # ctypes reads and writes an aligned u32 with one load or store.
    req_tail = u32.from_buffer(mm, REQ_TAIL)
    req_sleep = u32.from_buffer(mm, REQ_SLEEP)
    req_head = u32.from_buffer(mm, REQ_HEAD)
    resp_tail = u32.from_buffer(mm, RESP_TAIL)
    resp_sleep = u32.from_buffer(mm, RESP_SLEEP)
    resp_head = u32.from_buffer(mm, RESP_HEAD)

    libc = ctypes.CDLL(None, use_errno=True)
    syscall = libc.syscall
    syscall.restype = ctypes.c_long
    syscall.argtypes = (ctypes.c_long, ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32,
                        ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint32)

    class timespec(ctypes.Structure):
        _fields_ = [('tv_sec', ctypes.c_long), ('tv_nsec', ctypes.c_long)]

    timeout = timespec(0, 200_000_000)  # wake up to check Go is alive
    timeout_p = ctypes.addressof(timeout)
    req_tail_p = ctypes.addressof(req_tail)
    resp_tail_p = ctypes.addressof(resp_tail)

    lock = threading.Lock()
    acquire, release = lock.acquire, lock.release

    def fence():
        # Python has no atomics. A full fence is needed between publishing
        # resp_tail and reading resp_sleep (Dekker: Go stores resp_sleep,
        # then reads resp_tail). An uncontended Lock acquire/release is a
        # glibc sem_trywait/sem_post, i.e. LOCK CMPXCHG / LOCK XADD: a full
        # barrier on x86-64 (POSIX lists sem_post among the functions that
        # synchronize memory).
        acquire()
        release()

    ppid = os.getppid()
    if eventfds:
        sleep_fd, wake_fd = 4, 5
        poller = select.poll()
        poller.register(sleep_fd, select.POLLIN)
        poll = poller.poll
        eventfd_read, eventfd_write = os.eventfd_read, os.eventfd_write
    unpack_from, pack_into = HEADER.unpack_from, HEADER.pack_into
    qbase, rbase = DATA, DATA + cap

    def read(base, idx, n):
        p = idx & mask
        if p + n <= cap:
            return mm[base + p:base + p + n]
        k = cap - p
        return mm[base + p:base + cap] + mm[base:base + n - k]

    def write(base, idx, data):
        p = idx & mask
        n = len(data)
        if p + n <= cap:
            mm[base + p:base + p + n] = data
        else:
            k = cap - p
            mm[base + p:base + cap] = data[:k]
            mm[base:base + n - k] = data[k:]

    hdr = bytearray(8)
    head = req_head.value
    rtail = resp_tail.value
    while True:
        tail = req_tail.value
        if tail == head:
            if spin_ns:
                deadline = perf_ns() + spin_ns
                while req_tail.value == head and perf_ns() < deadline:
                    pass
                tail = req_tail.value
            if tail == head:
                req_sleep.value = 1
                if eventfds:
                    # Dekker with Go's store of req_tail and load of
                    # req_sleep: fence, then look again before sleeping.
                    fence()
                    if req_tail.value == head and poll(200):
                        eventfd_read(sleep_fd)
                else:
                    # The kernel re-reads req_tail after a full barrier
                    # and sleeps only if it is still `head`: no lost
                    # wake-up.
                    syscall(SYS_FUTEX, req_tail_p, FUTEX_WAIT, head, timeout_p, None, 0)
                req_sleep.value = 0
                if os.getppid() != ppid:
                    return  # Go died without a word: no EOF to tell us
                continue
        while head != tail:
            if (tail - head) & 0xFFFFFFFF < 8:
                raise ProtocolError('torn header')
            length, stream, op, flags = unpack_from(read(qbase, head, 8))
            if length > MAX_PAYLOAD or 8 + length > (tail - head) & 0xFFFFFFFF:
                raise ProtocolError('frame of %d bytes' % length)
            payload = read(qbase, head + 8, length)
            head = (head + ((8 + length + 7) & ~7)) & 0xFFFFFFFF
            req_head.value = head
            out = handle(op, flags, payload)
            if out is None:
                return
            body = out[1]
            need = (8 + len(body) + 7) & ~7
            if need > cap - ((rtail - resp_head.value) & 0xFFFFFFFF):
                raise ProtocolError('response ring full (Go exceeded its window)')
            pack_into(hdr, 0, len(body), stream, out[0], 0)
            write(rbase, rtail, hdr)
            write(rbase, rtail + 8, body)
            rtail = (rtail + need) & 0xFFFFFFFF
            resp_tail.value = rtail  # publish: the data stores came first (TSO)
            fence()
            if resp_sleep.value:
                if eventfds:
                    eventfd_write(wake_fd, 1)
                else:
                    syscall(SYS_FUTEX, resp_tail_p, FUTEX_WAKE, 1, None, None, 0)


def main(argv):
    try:
        if argv[1:2] == ['sock']:
            serve_sock()
        elif argv[1:2] == ['ring'] and len(argv) in (4, 5) and argv[4:] in ([], ['eventfd']):
            serve_ring(int(argv[2]), int(argv[3]), len(argv) == 5)
        else:
            raise ProtocolError('usage: peer.py sock | peer.py ring SIZE SPIN_NS [eventfd]')
    except ProtocolError as e:
        print('bench/ring peer: %s' % e, file=sys.stderr)
        sys.exit(2)


if __name__ == '__main__':
    main(sys.argv)
