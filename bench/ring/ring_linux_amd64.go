//go:build linux && amd64

package main

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// ringSupported reports whether this build has the shared-memory
// transport: Linux (futex, memfd) on x86-64 (the Python peer publishes
// its ring index with a plain store, which only x86's total store order
// keeps behind the data; see peer.py's fence()).
const ringSupported = true

// The layout of the shared memory; peer.py has the same constants. Each
// word sits on its own cache line, so the two sides' stores do not
// false-share.
const (
	offReqTail   = 0   // u32, Go publishes requests; Python sleeps on it
	offReqSleep  = 64  // u32, 1 while Python is (about to be) asleep
	offReqHead   = 128 // u32, Python's progress
	offRespTail  = 256 // u32, Python publishes answers; Go sleeps on it
	offRespSleep = 320 // u32, 1 while Go is (about to be) asleep
	offRespHead  = 384 // u32, Go's progress
	offData      = 4096
)

const (
	sysMemfdCreate = 319 // x86-64
	mfdCloexec     = 0x1
	mfdAllowSeal   = 0x2
	fAddSeals      = 1033
	sealSeal       = 0x1
	sealShrink     = 0x2
	sealGrow       = 0x4
	futexWait      = 0
	futexWake      = 1
	efdCloexec     = 0x80000
	efdNonblock    = 0x800
)

// ringLink is transports (b) and (c): two single-producer single-consumer
// byte rings in one sealed memfd shared with the peer, requests Go →
// Python and answers Python → Go, each with a futex word (the ring's
// tail) for the consumer to sleep on and a sleep flag that tells the
// producer whether to wake it. With spin > 0 a consumer polls its ring
// that long before it sleeps. With eventfds (ringefd) the consumers
// sleep on an eventfd instead of the futex: Go's through the netpoller,
// as it waits for a socket, Python's in poll(2); the producer writes the
// eventfd when the sleep flag is set (NGINX Unit's design, with an
// eventfd for its notification socket).
//
// Go's producers are serialized by a mutex (several goroutines send);
// the answer ring has one consumer, the goroutine in recv. A send never
// waits for room: the client keeps at most window frames in flight and
// each ring holds window frames of maxPayload (errRingFull otherwise).
type ringLink struct {
	mem  []byte
	cap  uint32 // bytes per ring, a power of two
	spin time.Duration

	mu      sync.Mutex // serializes producers
	reqTail uint32     // under mu: Go's copy of the request tail

	head    uint32 // the consumer's copy of the answer head
	scratch []byte // a frame that wraps around the ring's end

	closed atomic.Bool // the peer exited or close was called
	once   sync.Once

	// With eventfds: Go sleeps reading goEFD (the peer writes it), the
	// peer sleeps on pyEFD (Go writes it).
	goEFD  *os.File
	pyEFD  int
	efdBuf [8]byte // the consumer's
}

var (
	errRingFull   = errors.New("ring bench: request ring full (more in flight than the ring holds)")
	errRingClosed = errors.New("ring bench: ring closed (the peer exited)")
	errRingTorn   = errors.New("ring bench: corrupt frame in the answer ring")
)

// ringSize returns the memfd's size for window frames in flight.
func ringSize(window int) int {
	need := window * (headerSize + maxPayload)
	c := 4096
	for c < need {
		c <<= 1
	}
	return offData + 2*c
}

// newRing creates the shared memory for window frames in flight and
// maps it; the returned files are the peer's fd 3 (the memfd) and, with
// eventfds, fds 4 (the peer sleeps on it) and 5 (the peer wakes Go
// with it). The caller closes them once the peer started.
func newRing(window int, spin time.Duration, eventfds bool) (*ringLink, []*os.File, error) {
	r, f, err := newRingMem(window, spin)
	if err != nil || !eventfds {
		return r, []*os.File{f}, err
	}
	pyFD, _, e := syscall.Syscall(syscall.SYS_EVENTFD2, 0, efdCloexec, 0)
	if e != 0 {
		f.Close()
		return nil, nil, fmt.Errorf("ring bench: eventfd: %w", e)
	}
	goFD, _, e := syscall.Syscall(syscall.SYS_EVENTFD2, 0, efdCloexec|efdNonblock, 0)
	if e != 0 {
		f.Close()
		syscall.Close(int(pyFD))
		return nil, nil, fmt.Errorf("ring bench: eventfd: %w", e)
	}
	// Go writes pyFD with plain write(2) calls; a second descriptor of
	// it goes to the peer.
	pyDup, err := syscall.Dup(int(pyFD))
	if err != nil {
		f.Close()
		syscall.Close(int(pyFD))
		syscall.Close(int(goFD))
		return nil, nil, fmt.Errorf("ring bench: dup: %w", err)
	}
	syscall.CloseOnExec(pyDup)
	r.pyEFD = int(pyFD)
	r.goEFD = os.NewFile(goFD, "eventfd-go") // non-blocking: the netpoller waits for it
	goDup, err := syscall.Dup(int(goFD))
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("ring bench: dup: %w", err)
	}
	syscall.CloseOnExec(goDup)
	return r, []*os.File{f, os.NewFile(uintptr(pyDup), "eventfd-peer-wait"), os.NewFile(uintptr(goDup), "eventfd-peer-wake")}, nil
}

// newRingMem creates and maps the sealed memfd.
func newRingMem(window int, spin time.Duration) (*ringLink, *os.File, error) {
	size := ringSize(window)
	name := []byte("graft-ring\x00")
	fd, _, e := syscall.Syscall(sysMemfdCreate, uintptr(unsafe.Pointer(&name[0])), mfdCloexec|mfdAllowSeal, 0)
	if e != 0 {
		return nil, nil, fmt.Errorf("ring bench: memfd_create: %w", e)
	}
	f := os.NewFile(fd, "graft-ring")
	if err := f.Truncate(int64(size)); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("ring bench: %w", err)
	}
	// The peer can neither shrink the file (Go would take SIGBUS on a
	// mapped page past the end) nor grow it, nor change the seals.
	if _, _, e := syscall.Syscall(syscall.SYS_FCNTL, fd, fAddSeals, sealShrink|sealGrow|sealSeal); e != 0 {
		f.Close()
		return nil, nil, fmt.Errorf("ring bench: sealing the memfd: %w", e)
	}
	mem, err := syscall.Mmap(int(fd), 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("ring bench: mmap: %w", err)
	}
	r := &ringLink{
		mem:     mem,
		cap:     uint32((size - offData) / 2),
		spin:    spin,
		scratch: make([]byte, headerSize+maxPayload),
	}
	return r, f, nil
}

// word returns the u32 at off in the shared memory.
func (r *ringLink) word(off int) *uint32 { return (*uint32)(unsafe.Pointer(&r.mem[off])) }

// peerExited is called once the peer process has exited: wake the
// consumer, which then finds closed set.
func (r *ringLink) peerExited() {
	r.closed.Store(true)
	r.wakeSelf()
}

// wakeSelf wakes Go's consumer, wherever it sleeps.
func (r *ringLink) wakeSelf() {
	if r.goEFD != nil {
		one := [8]byte{1}
		r.goEFD.Write(one[:])
		return
	}
	futex(r.word(offRespTail), futexWake, 1<<30, nil)
}

func (r *ringLink) send(h header, payload []byte) error {
	if r.closed.Load() {
		return errRingClosed
	}
	n := uint32(headerSize + len(payload))
	need := (n + 7) &^ 7
	r.mu.Lock()
	tail := r.reqTail
	if need > r.cap-(tail-atomic.LoadUint32(r.word(offReqHead))) {
		r.mu.Unlock()
		return errRingFull
	}
	var hb [headerSize]byte
	putHeader(hb[:], h)
	base := r.mem[offData : offData+int(r.cap)]
	r.put(base, tail, hb[:])
	r.put(base, tail+headerSize, payload)
	r.reqTail = tail + need
	// A locked XCHG on amd64: the data stores are visible before the
	// new tail, and the tail before the load of the sleep flag (the
	// Dekker pair of the peer's store of its flag and re-read of the
	// tail, which the kernel's futex_wait does after a full barrier).
	atomic.StoreUint32(r.word(offReqTail), r.reqTail)
	sleeping := atomic.LoadUint32(r.word(offReqSleep)) != 0
	r.mu.Unlock()
	if sleeping {
		if r.goEFD != nil {
			one := [8]byte{1}
			syscall.Write(r.pyEFD, one[:])
		} else {
			futex(r.word(offReqTail), futexWake, 1, nil)
		}
	}
	return nil
}

// put copies b into ring base at index idx, wrapping around its end.
func (r *ringLink) put(base []byte, idx uint32, b []byte) {
	p := idx & (r.cap - 1)
	k := copy(base[p:], b)
	copy(base, b[k:])
}

// get copies len(b) bytes of ring base at index idx into b.
func (r *ringLink) get(base []byte, idx uint32, b []byte) {
	p := idx & (r.cap - 1)
	k := copy(b, base[p:])
	copy(b[k:], base)
}

func (r *ringLink) recv(fn func(h header, payload []byte)) error {
	tailp := r.word(offRespTail)
	for {
		tail := atomic.LoadUint32(tailp)
		if tail != r.head {
			return r.consume(tail, fn)
		}
		if r.closed.Load() {
			return errRingClosed
		}
		if r.spin > 0 {
			start := time.Now()
			for i := 0; atomic.LoadUint32(tailp) == r.head; i++ {
				if i&63 == 63 && time.Since(start) > r.spin {
					break
				}
			}
			if atomic.LoadUint32(tailp) != r.head {
				continue
			}
		}
		atomic.StoreUint32(r.word(offRespSleep), 1) // XCHG: a full barrier
		if r.goEFD != nil {
			if atomic.LoadUint32(tailp) == r.head {
				if _, err := r.goEFD.Read(r.efdBuf[:]); err != nil {
					return fmt.Errorf("ring bench: eventfd: %w", err)
				}
			}
		} else if atomic.LoadUint32(tailp) == r.head {
			// Sleeps only if the tail is still r.head; the timeout is
			// a second line of defence for a missed peerExited.
			ts := syscall.NsecToTimespec(int64(100 * time.Millisecond))
			futex(tailp, futexWait, r.head, &ts)
		}
		atomic.StoreUint32(r.word(offRespSleep), 0)
	}
}

// consume hands every frame up to tail to fn. The peer may write
// anything into the shared memory: every length is checked against
// what was published before it is used.
func (r *ringLink) consume(tail uint32, fn func(h header, payload []byte)) error {
	base := r.mem[offData+int(r.cap) : offData+2*int(r.cap)]
	headp := r.word(offRespHead)
	for r.head != tail {
		avail := tail - r.head
		if avail < headerSize || avail > r.cap {
			return errRingTorn
		}
		var hb [headerSize]byte
		r.get(base, r.head, hb[:])
		h, err := parseHeader(hb[:])
		if err != nil {
			return err
		}
		step := (headerSize + h.length + 7) &^ 7
		if step > avail {
			return errRingTorn
		}
		var payload []byte
		if p := (r.head + headerSize) & (r.cap - 1); p+h.length <= r.cap {
			payload = base[p : p+h.length]
		} else {
			payload = r.scratch[:h.length]
			r.get(base, r.head+headerSize, payload)
		}
		fn(h, payload)
		r.head += step
		atomic.StoreUint32(headp, r.head)
	}
	return nil
}

// close marks the ring closed and wakes a sleeping consumer; the mapping
// stays (a late fn may still read it) until the process exits.
func (r *ringLink) close() error {
	r.once.Do(func() {
		r.closed.Store(true)
		r.wakeSelf()
	})
	return nil
}

// futex is the futex(2) system call on a word of the shared mapping (not
// FUTEX_PRIVATE: the two processes share the word through the memfd).
// FUTEX_WAIT blocks the OS thread; the Go runtime treats it as a blocking
// system call. Errors (EAGAIN: the word changed; ETIMEDOUT; EINTR) only
// mean "look again".
func futex(addr *uint32, op int, val uint32, ts *syscall.Timespec) {
	if op == futexWake {
		syscall.RawSyscall6(syscall.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), uintptr(op), uintptr(val), 0, 0, 0)
		return
	}
	syscall.Syscall6(syscall.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), uintptr(op), uintptr(val), uintptr(unsafe.Pointer(ts)), 0, 0)
}
