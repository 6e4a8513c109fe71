package wsgi

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
)

// frameConn reads and writes frames on a worker's socket. Reads go through
// ReadMsgUnix with room for ancillary data, because a worker may attach a
// file descriptor to a frame (wsgi.file_wrapper) and a plain read would make
// the kernel drop it. Only one goroutine reads; writes are serialised by the
// caller.
type frameConn struct {
	c    *net.UnixConn
	buf  []byte
	r, w int
	oob  []byte
	fds  []int // received descriptors not yet claimed by a FILE frame
}

func newFrameConn(c *net.UnixConn) *frameConn {
	return &frameConn{c: c, buf: make([]byte, 64<<10), oob: make([]byte, syscall.CmsgSpace(4*4))}
}

// fill reads more bytes into the buffer.
func (f *frameConn) fill() error {
	if f.r == f.w {
		f.r, f.w = 0, 0
	} else if f.w == len(f.buf) {
		n := copy(f.buf, f.buf[f.r:f.w])
		f.r, f.w = 0, n
	}
	n, oobn, _, _, err := f.c.ReadMsgUnix(f.buf[f.w:], f.oob)
	if oobn > 0 {
		if msgs, perr := syscall.ParseSocketControlMessage(f.oob[:oobn]); perr == nil {
			for _, m := range msgs {
				if fds, perr := syscall.ParseUnixRights(&m); perr == nil {
					f.fds = append(f.fds, fds...)
				}
			}
		}
	}
	f.w += n
	if n == 0 && err == nil {
		err = io.EOF
	}
	if n > 0 {
		return nil
	}
	return err
}

// next returns the next frame. Its payload aliases the read buffer and is
// valid only until the following call.
func (f *frameConn) next() (frameHeader, []byte, error) {
	for f.w-f.r < frameHeaderSize {
		if err := f.fill(); err != nil {
			return frameHeader{}, nil, err
		}
	}
	h, err := parseFrameHeader(f.buf[f.r:])
	if err != nil {
		return h, nil, err
	}
	need := frameHeaderSize + int(h.length)
	if need > len(f.buf) {
		// A large frame: grow the buffer to hold it whole.
		nb := make([]byte, need)
		f.w = copy(nb, f.buf[f.r:f.w])
		f.r = 0
		f.buf = nb
	} else if len(f.buf)-f.r < need {
		f.w = copy(f.buf, f.buf[f.r:f.w])
		f.r = 0
	}
	for f.w-f.r < need {
		if err := f.fill(); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return h, nil, err
		}
	}
	p := f.buf[f.r+frameHeaderSize : f.r+need]
	f.r += need
	if len(f.buf) > 1<<20 && f.r == f.w {
		f.buf, f.r, f.w = make([]byte, 64<<10), 0, 0 // don't keep a huge buffer
	}
	return h, p, nil
}

// takeFD returns the oldest received file descriptor as a file.
func (f *frameConn) takeFD(name string) (*os.File, error) {
	if len(f.fds) == 0 {
		return nil, errors.New("wsgi: FILE frame without a file descriptor")
	}
	fd := f.fds[0]
	f.fds = f.fds[1:]
	return os.NewFile(uintptr(fd), name), nil
}

// closeFDs closes descriptors that were never claimed.
func (f *frameConn) closeFDs() {
	for _, fd := range f.fds {
		syscall.Close(fd)
	}
	f.fds = nil
}

// writeAll writes b, attaching file (if not nil) to its first byte.
func writeAll(c *net.UnixConn, b []byte, file *os.File) error {
	if file != nil {
		n, _, err := c.WriteMsgUnix(b, syscall.UnixRights(int(file.Fd())), nil)
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("wsgi: short write with descriptor")
		}
		b = b[n:]
	}
	for len(b) > 0 {
		n, err := c.Write(b)
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}
