package main

import (
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
)

// sockLink is transport (a), today's design: length-prefixed frames over
// an AF_UNIX SOCK_STREAM socketpair, read through net.UnixConn (the
// netpoller parks the reader until the socket is readable).
type sockLink struct {
	c    *net.UnixConn
	wmu  sync.Mutex
	wbuf []byte // under wmu
	rbuf []byte // the reader's
	have int    // bytes in rbuf
}

// newSocketpair returns Go's end as a sockLink and the peer's end, to
// pass to the peer as fd 3 (the caller closes it once the peer started).
func newSocketpair() (*sockLink, *os.File, error) {
	syscall.ForkLock.RLock()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(fds[0])
		syscall.CloseOnExec(fds[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, nil, fmt.Errorf("ring bench: socketpair: %w", err)
	}
	goSide := os.NewFile(uintptr(fds[0]), "socketpair-go")
	defer goSide.Close() // FileConn dups it
	fc, err := net.FileConn(goSide)
	if err != nil {
		syscall.Close(fds[1])
		return nil, nil, fmt.Errorf("ring bench: socketpair: %w", err)
	}
	return &sockLink{c: fc.(*net.UnixConn), rbuf: make([]byte, 256<<10)},
		os.NewFile(uintptr(fds[1]), "socketpair-peer"), nil
}

func (s *sockLink) send(h header, payload []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	n := headerSize + len(payload)
	if cap(s.wbuf) < n {
		s.wbuf = make([]byte, headerSize+maxPayload)
	}
	b := s.wbuf[:n]
	putHeader(b, h)
	copy(b[headerSize:], payload)
	_, err := s.c.Write(b)
	return err
}

func (s *sockLink) recv(fn func(h header, payload []byte)) error {
	for {
		n, err := s.c.Read(s.rbuf[s.have:])
		if err != nil {
			return fmt.Errorf("ring bench: socket: %w", err)
		}
		s.have += n
		off, frames := 0, 0
		for s.have-off >= headerSize {
			h, err := parseHeader(s.rbuf[off:])
			if err != nil {
				return err
			}
			end := off + headerSize + int(h.length)
			if end > s.have {
				break
			}
			fn(h, s.rbuf[off+headerSize:end])
			off = end
			frames++
		}
		s.have = copy(s.rbuf, s.rbuf[off:s.have])
		if frames > 0 {
			return nil
		}
	}
}

func (s *sockLink) close() error { return s.c.Close() }
