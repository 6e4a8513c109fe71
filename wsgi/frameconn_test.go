package wsgi

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// testFrame encodes one frame.
func testFrame(kind byte, stream uint16, payload []byte) []byte {
	b := make([]byte, frameHeaderSize, frameHeaderSize+len(payload))
	putFrameHeader(b, frameHeader{kind: kind, stream: stream, length: uint32(len(payload))})
	return append(b, payload...)
}

// socketPairConns returns the two ends of a Unix stream socketpair: Go's
// side as a *net.UnixConn and the peer's as a raw descriptor.
func socketPairConns(t *testing.T) (*net.UnixConn, int) {
	t.Helper()
	fds, err := socketpair()
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fds[0]), "test-socket")
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); syscall.Close(fds[1]) })
	return c.(*net.UnixConn), fds[1]
}

// readFrames reads frames with next until it fails, calling handle for
// each, and returns the error that ended the reading.
func readFrames(fc *frameConn, handle func(frameHeader, []byte) error) error {
	for {
		h, payload, err := fc.next()
		if err != nil {
			return err
		}
		if err := handle(h, payload); err != nil {
			return err
		}
	}
}

// TestFrameConnRead feeds frames to frameConn.next over a real socketpair,
// cut and timed in different ways, and checks that every frame arrives
// whole and in order, and how the read ends.
func TestFrameConnRead(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 20000) // 320 KB: more than the read buffer (readBufSize)
	frames := [][]byte{
		testFrame(frameResp, 1, []byte("\x06\x00\x00\x00200 OKhello")),
		testFrame(frameData, 2, big),
		testFrame(frameEnd, 2, nil),
		testFrame(frameLog, 0, []byte("20\x00app\x00hi")),
	}
	all := bytes.Join(frames, nil)
	type write struct {
		b     []byte
		pause bool // let the reader drain the socket before the next write
	}
	oneByOne := func(b []byte, step int) []write {
		var ws []write
		for i := 0; i < len(b); i += step {
			ws = append(ws, write{b: b[i:min(i+step, len(b))], pause: i%(step*97) == 0})
		}
		return ws
	}
	tests := []struct {
		name    string
		writes  []write
		want    int   // frames delivered
		wantErr error // how run ends after the writer closes its end
	}{
		{"one write", []write{{b: all}}, 4, io.EOF},
		{"frame by frame with pauses", []write{{frames[0], true}, {frames[1], true}, {frames[2], true}, {frames[3], true}}, 4, io.EOF},
		{"small pieces", oneByOne(all, 7), 4, io.EOF},
		{"header split", []write{{all[:3], true}, {all[3:], false}}, 4, io.EOF},
		{"cut in a frame", []write{{all[:len(frames[0])+100], true}}, 1, io.ErrUnexpectedEOF},
		{"nothing", nil, 0, io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, peer := socketPairConns(t)
			go func() {
				for _, w := range tt.writes {
					for b := w.b; len(b) > 0; {
						n, err := syscall.Write(peer, b)
						if err != nil {
							return
						}
						b = b[n:]
					}
					if w.pause {
						time.Sleep(2 * time.Millisecond)
					}
				}
				syscall.Shutdown(peer, syscall.SHUT_WR)
			}()
			fc := newFrameConn(c)
			var got [][]byte
			err := readFrames(fc, func(h frameHeader, payload []byte) error {
				var b [frameHeaderSize]byte
				putFrameHeader(b[:], h)
				got = append(got, append(b[:], payload...)) // payload is only valid until return
				return nil
			})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("reading ended with %v, want %v", err, tt.wantErr)
			}
			if len(got) != tt.want {
				t.Fatalf("got %d frames, want %d", len(got), tt.want)
			}
			for i := range got {
				if !bytes.Equal(got[i], frames[i]) {
					t.Fatalf("frame %d differs: %d bytes, want %d", i, len(got[i]), len(frames[i]))
				}
			}
		})
	}
}

// TestFrameConnDeadline: a read cut short by a deadline (a leader whose
// client left, the idle poll) leaves the frame it was in the middle of for
// the next read, which gets it whole.
func TestFrameConnDeadline(t *testing.T) {
	for _, cut := range []int{0, 3, frameHeaderSize, frameHeaderSize + 5} {
		t.Run(fmt.Sprintf("cut at %d", cut), func(t *testing.T) {
			c, peer := socketPairConns(t)
			fc := newFrameConn(c)
			frame := testFrame(frameData, 7, []byte("0123456789abcdef"))
			if _, err := syscall.Write(peer, frame[:cut]); cut > 0 && err != nil {
				t.Fatal(err)
			}
			c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			if _, _, err := fc.next(); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("next with half a frame and a deadline: %v, want a deadline error", err)
			}
			c.SetReadDeadline(time.Time{})
			if _, err := syscall.Write(peer, frame[cut:]); err != nil {
				t.Fatal(err)
			}
			h, payload, err := fc.next()
			if err != nil || h.kind != frameData || h.stream != 7 || string(payload) != "0123456789abcdef" {
				t.Fatalf("next after the deadline: %+v %q %v, want the whole frame", h, payload, err)
			}
		})
	}
}

// TestFrameConnResponsePart: a RESP frame's body comes in a recycled
// buffer of its own, not in the read buffer the next read overwrites.
func TestFrameConnResponsePart(t *testing.T) {
	c, peer := socketPairConns(t)
	fc := newFrameConn(c)
	head := "200 OK\x00Content-Type\x00text/plain"
	payload := binary.LittleEndian.AppendUint32(nil, uint32(len(head)))
	payload = append(append(payload, head...), "hello, body"...)
	for i := range 3 {
		if _, err := syscall.Write(peer, testFrame(frameResp, 1, payload)); err != nil {
			t.Fatal(err)
		}
		h, b, err := fc.next()
		if err != nil {
			t.Fatal(err)
		}
		p, err := fc.part(h, b, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if p.Kind != PartResponse || p.Status != "200 OK" || string(p.Data) != "hello, body" || p.buf == nil {
			t.Fatalf("round %d: %+v", i, p)
		}
		start := uintptr(unsafe.Pointer(unsafe.SliceData(fc.buf)))
		if at := uintptr(unsafe.Pointer(&p.Data[0])); at >= start && at < start+uintptr(len(fc.buf)) {
			t.Fatalf("round %d: the body aliases the read buffer", i)
		}
		p.release()
		if p.Data != nil || p.buf != nil {
			t.Fatalf("round %d: release left %+v", i, p)
		}
	}
}

// TestFrameConnDescriptor checks that a descriptor sent with a frame is
// received with it, close-on-exec, and that reading goes on after the
// read that carried it (the kernel ends such a read early).
func TestFrameConnDescriptor(t *testing.T) {
	c, peer := socketPairConns(t)
	f, err := os.CreateTemp(t.TempDir(), "fd")
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("contents")
	defer f.Close()
	first := testFrame(frameFile, 1, make([]byte, 16))
	rest := append(testFrame(frameEnd, 1, nil), testFrame(frameEnd, 2, nil)...)
	if err := syscall.Sendmsg(peer, first, syscall.UnixRights(int(f.Fd())), nil, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := syscall.Write(peer, rest); err != nil {
		t.Fatal(err)
	}
	syscall.Shutdown(peer, syscall.SHUT_WR)
	fc := newFrameConn(c)
	var kinds []byte
	var got *os.File
	err = readFrames(fc, func(h frameHeader, _ []byte) error {
		kinds = append(kinds, h.kind)
		if h.kind == frameFile {
			var err error
			got, err = fc.takeFD("file")
			return err
		}
		return nil
	})
	if !errors.Is(err, io.EOF) {
		t.Fatalf("reading ended with %v", err)
	}
	if !bytes.Equal(kinds, []byte{frameFile, frameEnd, frameEnd}) {
		t.Fatalf("frames %v", kinds)
	}
	if got == nil {
		t.Fatal("no descriptor")
	}
	defer got.Close()
	b := make([]byte, 8)
	if _, err := got.ReadAt(b, 0); err != nil || string(b) != "contents" {
		t.Fatalf("read %q, %v from the received descriptor", b, err)
	}
	flags, err := fcntlGetFD(got.Fd())
	if err != nil {
		t.Fatal(err)
	}
	if flags&syscall.FD_CLOEXEC == 0 {
		t.Fatal("the received descriptor is not close-on-exec")
	}
}

// fcntlGetFD returns the descriptor flags of fd (F_GETFD).
func fcntlGetFD(fd uintptr) (int, error) {
	r, _, errno := syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_GETFD, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}

// dataParts reads frames as the worker's reader does (next, then part with
// a maximum of max body bytes) until EOF, and returns the parts with
// their stream ids. Each Data is copied out and the part released as soon
// as it is read, unless hold > 0: then up to hold parts stay unreleased
// (as in the request's channel), and their bytes are checked to be
// intact when released, so that a recycled buffer reused too early shows.
func dataParts(t testing.TB, fc *frameConn, max, hold int) (ids []uint16, parts []Part) {
	t.Helper()
	type held struct {
		p    Part
		want []byte
	}
	var pending []held
	releaseOne := func() {
		h := pending[0]
		pending = pending[1:]
		if !bytes.Equal(h.p.Data, h.want) {
			t.Fatalf("a held part's bytes changed before it was released")
		}
		h.p.release()
	}
	for {
		h, payload, err := fc.next()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("reading ended with %v", err)
			}
			break
		}
		p, err := fc.part(h, payload, max)
		if err != nil {
			t.Fatalf("part: %v", err)
		}
		cp := p
		cp.Data, cp.buf = bytes.Clone(p.Data), nil
		ids, parts = append(ids, h.stream), append(parts, cp)
		if p.buf != nil {
			pending = append(pending, held{p, cp.Data})
			if len(pending) > hold {
				releaseOne()
			}
		}
	}
	for len(pending) > 0 {
		releaseOne()
	}
	return ids, parts
}

// TestFrameConnDataParts: the DATA frames of a stream that one read
// brought become one part, up to the maximum, never across a frame of
// another kind or stream, nor with a frame only partly read.
func TestFrameConnDataParts(t *testing.T) {
	d := func(stream uint16, s string) []byte { return testFrame(frameData, stream, []byte(s)) }
	end := func(stream uint16) []byte { return testFrame(frameEnd, stream, nil) }
	type part struct {
		stream uint16
		kind   PartKind
		data   string
	}
	big := strings.Repeat("x", 40<<10)
	tests := []struct {
		name   string
		writes [][]byte // each written whole, the reader draining the socket between them
		max    int
		want   []part
	}{
		{"one stream", [][]byte{bytes.Join([][]byte{d(1, "a"), d(1, "bc"), d(1, "def"), end(1)}, nil)}, 1 << 20,
			[]part{{1, PartData, "abcdef"}, {1, PartEnd, ""}}},
		{"two streams interleaved", [][]byte{bytes.Join([][]byte{d(1, "a"), d(1, "b"), d(2, "c"), d(2, "d"), d(1, "e"), end(2), d(1, "f"), end(1)}, nil)}, 1 << 20,
			[]part{{1, PartData, "ab"}, {2, PartData, "cd"}, {1, PartData, "e"}, {2, PartEnd, ""}, {1, PartData, "f"}, {1, PartEnd, ""}}},
		{"up to the maximum", [][]byte{bytes.Join([][]byte{d(1, "aaaa"), d(1, "bbbb"), d(1, "cc"), d(1, "dddd"), end(1)}, nil)}, 10,
			[]part{{1, PartData, "aaaabbbbcc"}, {1, PartData, "dddd"}, {1, PartEnd, ""}}},
		{"a first frame over the maximum alone", [][]byte{bytes.Join([][]byte{d(1, "aaaaaa"), d(1, "b"), end(1)}, nil)}, 4,
			[]part{{1, PartData, "aaaaaa"}, {1, PartData, "b"}, {1, PartEnd, ""}}},
		{"not across another kind", [][]byte{bytes.Join([][]byte{d(1, "a"), testFrame(frameHints, 1, []byte("Link\x00</s.css>")), d(1, "b"), end(1)}, nil)}, 1 << 20,
			[]part{{1, PartData, "a"}, {1, PartHints, ""}, {1, PartData, "b"}, {1, PartEnd, ""}}},
		{"empty DATA frames", [][]byte{bytes.Join([][]byte{d(1, ""), d(1, "a"), d(1, ""), d(1, "b"), end(1)}, nil)}, 1 << 20,
			[]part{{1, PartData, ""}, {1, PartData, "a"}, {1, PartData, ""}, {1, PartData, "b"}, {1, PartEnd, ""}}},
		{"separate reads", [][]byte{d(1, "a"), d(1, "b"), end(1)}, 1 << 20,
			[]part{{1, PartData, "a"}, {1, PartData, "b"}, {1, PartEnd, ""}}},
		{"a frame cut by the read", [][]byte{append(d(1, big), d(1, big)[:100]...), d(1, big)[100:], end(1)}, 1 << 20,
			[]part{{1, PartData, big}, {1, PartData, big}, {1, PartEnd, ""}}},
		{"large frames", [][]byte{bytes.Join([][]byte{d(1, big), d(1, big), d(1, big), end(1)}, nil)}, 100 << 10,
			[]part{{1, PartData, big + big}, {1, PartData, big}, {1, PartEnd, ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, peer := socketPairConns(t)
			fc := newFrameConn(c)
			// The first write is in the socket before the reader starts;
			// each next one waits until the reader took everything before
			// it, so that no read can bring both.
			first := tt.writes[0]
			if _, err := syscall.Write(peer, first); err != nil {
				t.Fatal(err)
			}
			werr := make(chan error, 1)
			go func() {
				defer syscall.Shutdown(peer, syscall.SHUT_WR)
				for _, w := range tt.writes[1:] {
					deadline := time.Now().Add(5 * time.Second)
					for {
						n, err := unreadBytes(c)
						if err != nil {
							werr <- err
							return
						}
						if n == 0 {
							break
						}
						if time.Now().After(deadline) {
							werr <- errors.New("the reader did not drain the socket")
							return
						}
						time.Sleep(time.Millisecond)
					}
					if _, err := syscall.Write(peer, w); err != nil {
						werr <- err
						return
					}
				}
				werr <- nil
			}()
			ids, parts := dataParts(t, fc, tt.max, 2)
			if err := <-werr; err != nil {
				t.Fatal(err)
			}
			var got []part
			for i, p := range parts {
				got = append(got, part{ids[i], p.Kind, string(p.Data)})
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("parts:\n got %s\nwant %s", describeParts(got), describeParts(tt.want))
			}
		})
	}
}

// unreadBytes is how many bytes wait in c's receive queue (FIONREAD).
func unreadBytes(c *net.UnixConn) (int, error) {
	fionread := uintptr(0x541B) // Linux
	if runtime.GOOS == "darwin" {
		fionread = 0x4004667f
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var n int32
	var errno syscall.Errno
	if err := rc.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, fionread, uintptr(unsafe.Pointer(&n)))
	}); err != nil {
		return 0, err
	}
	if errno != 0 {
		return 0, fmt.Errorf("FIONREAD: %w", errno)
	}
	return int(n), nil
}

// describeParts formats parts for a test failure, long data cut short.
func describeParts[P any](parts []P) string {
	var b strings.Builder
	for _, p := range parts {
		s := fmt.Sprintf("%+v", p)
		if len(s) > 80 {
			s = s[:60] + fmt.Sprintf("...(%d bytes)", len(s))
		}
		b.WriteString("\n  " + s)
	}
	return b.String()
}
