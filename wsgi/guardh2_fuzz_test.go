package wsgi

import (
	"bytes"
	"encoding/binary"
	"io"
	"strings"
	"testing"
)

// h2Frames builds HTTP/2 frames for the tracker's seeds and benchmark.
func h2Frames(frames ...[]byte) []byte { return bytes.Join(frames, nil) }

func h2FrameBytes(typ, flags byte, stream uint32, payload []byte) []byte {
	var b bytes.Buffer
	writeH2Frame(&b, typ, flags, stream, payload)
	return b.Bytes()
}

// h2Reference walks b (a connection's bytes from the preface on) frame by
// frame, the simple way, and reports whether a header block is open at
// the end and whether one was completed.
func h2Reference(b []byte) (open, done bool) {
	if len(b) < h2ClientPrefaceLen {
		return false, false
	}
	b = b[h2ClientPrefaceLen:]
	for len(b) >= 9 {
		n := int(b[0])<<16 | int(b[1])<<8 | int(b[2])
		typ, flags := b[3], b[4]
		if typ == h2FrameHeaders || typ == h2FrameContinuation && open {
			open = flags&h2FlagEndHeaders == 0
			done = done || !open
		}
		if len(b) < 9+n {
			break
		}
		b = b[9+n:]
	}
	return open, done
}

// FuzzH2Tracker: the guard's HTTP/2 frame tracker, fed a connection's
// bytes in pieces of any sizes, ends in the state a whole-buffer walk of
// the frames finds; and a guarded h2c connection gives net/http every
// byte it read, unchanged.
func FuzzH2Tracker(f *testing.F) {
	preface := "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
	settings := h2FrameBytes(0x4, 0, 0, []byte{0, 4, 0, 1, 0, 0})
	f.Add([]byte(preface), []byte{3})
	f.Add(h2Frames([]byte(preface), settings, h2FrameBytes(0x1, 0x5, 1, h2GET)), []byte{1, 9, 2})
	f.Add(h2Frames([]byte(preface), settings, h2FrameBytes(0x1, 0x1, 1, h2GET)), []byte{30})
	f.Add(h2Frames([]byte(preface), h2FrameBytes(0x1, 0x1, 1, h2GET), h2FrameBytes(0x9, 0, 1, h2Field),
		h2FrameBytes(0x9, 0x4, 1, h2Field)), []byte{7, 8, 9})
	f.Add(h2Frames([]byte(preface), h2FrameBytes(0x9, 0x0, 1, h2Field), h2FrameBytes(0x0, 0x4, 1, make([]byte, 300))),
		[]byte{200, 1})
	f.Add(h2Frames([]byte(preface), h2FrameBytes(0x1, 0x4, 1, h2GET), h2FrameBytes(0x0, 0x1, 1, make([]byte, 1000)),
		h2FrameBytes(0x1, 0x0, 3, h2GET)), []byte{255, 0, 17})
	f.Fuzz(func(t *testing.T, in, splits []byte) {
		var tr h2Tracker
		tr.skip = h2ClientPrefaceLen
		rest := in
		for i := 0; len(rest) > 0; i++ {
			n := len(rest)
			if len(splits) > 0 {
				n = min(n, int(splits[i%len(splits)])+1)
			}
			tr.feed(rest[:n])
			rest = rest[n:]
		}
		if open, done := h2Reference(in); tr.open != open || tr.done != done {
			t.Fatalf("tracker open=%v done=%v, reference open=%v done=%v", tr.open, tr.done, open, done)
		}

		// Through a guarded connection, after the preface's request line.
		if !strings.HasPrefix(string(in), preface) {
			in = append([]byte(preface), in...)
		}
		g := newGuardConn(&memConn{r: bytes.NewReader(in)}, RequestLimits{}.withDefaults(), nil, 0)
		out, _ := io.ReadAll(g)
		if !bytes.Equal(out, in) {
			t.Fatalf("guard gave %d bytes for %d, or changed them", len(out), len(in))
		}
		if g.h2 == nil {
			t.Fatal("no frame tracker after the preface")
		}
		if open, done := h2Reference(in); g.h2.open != open || g.h2.done != done {
			t.Fatalf("guarded: open=%v done=%v, reference open=%v done=%v", g.h2.open, g.h2.done, open, done)
		}
	})
}

// BenchmarkGuardReadH2: what the frame tracker adds to reading an h2c
// upload (a request, then 16 KiB DATA frames, the largest a client sends
// by default), against the same bytes unguarded, with the read sizes of
// net/http's HTTP/2 server (its frame reader's 4 KiB buffer, and 32 KiB).
func BenchmarkGuardReadH2(b *testing.B) {
	post := h2Frames([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), h2FrameBytes(0x4, 0, 0, nil), h2FrameBytes(0x1, 0x4, 1, h2GET))
	data := make([]byte, 16<<10)
	for i := range 256 { // 4 MiB
		flags := byte(0)
		if i == 255 {
			flags = 0x1
		}
		var h [9]byte
		h[0], h[1], h[2], h[3], h[4] = byte(len(data)>>16), byte(len(data)>>8), byte(len(data)), 0x0, flags
		binary.BigEndian.PutUint32(h[5:], 1)
		post = append(append(post, h[:]...), data...)
	}
	lim := RequestLimits{}.withDefaults()
	for _, size := range []int{4 << 10, 32 << 10} {
		buf := make([]byte, size)
		for _, guarded := range []bool{false, true} {
			name := map[bool]string{false: "plain", true: "guarded"}[guarded]
			b.Run(name+"/read="+map[int]string{4 << 10: "4KiB", 32 << 10: "32KiB"}[size], func(b *testing.B) {
				b.SetBytes(int64(len(post)))
				b.ReportAllocs()
				for b.Loop() {
					var r io.Reader = &memConn{r: bytes.NewReader(post)}
					if guarded {
						r = newGuardConn(r.(*memConn), lim, nil, 0)
					}
					for {
						if _, err := r.Read(buf); err != nil {
							break
						}
					}
				}
			})
		}
	}
}
