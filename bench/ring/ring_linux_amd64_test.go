//go:build linux && amd64

package main

import (
	"encoding/binary"
	"errors"
	"sync/atomic"
	"syscall"
	"testing"
)

// FuzzRingConsume: whatever a peer writes into the answer ring and
// whatever tail it publishes, Go's consumer returns frames within the
// published bytes or an error, never panics or reads past the ring.
func FuzzRingConsume(f *testing.F) {
	frame := make([]byte, 16)
	binary.LittleEndian.PutUint32(frame, 5)
	frame[6] = opPing
	copy(frame[8:], "hello")
	f.Add(frame, uint32(16), uint32(0))
	f.Add(frame, uint32(16), uint32(32760)) // wraps
	f.Add(frame, uint32(8), uint32(0))      // torn: header only
	f.Add([]byte{0xff, 0xff, 0xff, 0x7f, 0, 0, 1, 0}, uint32(8), uint32(0))
	f.Add(frame, uint32(1<<31), uint32(5))
	r, file, err := newRingMem(4, 0)
	if err != nil {
		f.Fatal(err)
	}
	defer file.Close()
	defer syscall.Munmap(r.mem)
	base := r.mem[offData+int(r.cap) : offData+2*int(r.cap)]
	f.Fuzz(func(t *testing.T, data []byte, published, head uint32) {
		clear(base)
		r.put(base, head, data[:min(len(data), int(r.cap))])
		r.head = head
		atomic.StoreUint32(r.word(offRespHead), head)
		tail := head + published
		seen := uint32(0)
		err = r.consume(tail, func(h header, p []byte) {
			if int(h.length) != len(p) || h.length > maxPayload {
				t.Fatalf("frame %+v with %d bytes", h, len(p))
			}
			seen += (headerSize + h.length + 7) &^ 7
		})
		if seen > published {
			t.Fatalf("consumed %d of %d published bytes", seen, published)
		}
		if err != nil && !errors.Is(err, errRingTorn) && !errors.Is(err, errFrameTooLarge) {
			t.Fatalf("unexpected error %v", err)
		}
	})
}
