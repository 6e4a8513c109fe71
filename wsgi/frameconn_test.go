package wsgi

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
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
	big := bytes.Repeat([]byte("0123456789abcdef"), 10000) // 160 KB: more than the 64 KiB buffer
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
