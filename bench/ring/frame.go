package main

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Frame ops; peer.py has the same constants (OP_PING, OP_STATS, OP_QUIT).
const (
	// opPing asks for payload[::-1][:want], want being the payload's first
	// four bytes (little endian), after flags microseconds of work.
	opPing byte = 1
	// opStats asks for the peer's CPU time: u64 utime µs | u64 stime µs.
	opStats byte = 2
	// opQuit ends the peer.
	opQuit byte = 3
)

const (
	// headerSize is the size of a frame header: u32 payload length | u16
	// stream | u8 op | u8 flags, little endian.
	headerSize = 8
	// maxPayload bounds a frame's payload on every transport: the ring's
	// slots are sized for it (a real adoption would send larger frames
	// over the socket).
	maxPayload = 4096
)

// header is a decoded frame header.
type header struct {
	length uint32
	stream uint16
	op     byte
	flags  byte
}

// errFrameTooLarge reports a frame header announcing more than maxPayload.
var errFrameTooLarge = errors.New("ring bench: frame payload over 4096 bytes")

// putHeader writes h into b[:headerSize].
func putHeader(b []byte, h header) {
	binary.LittleEndian.PutUint32(b, h.length)
	binary.LittleEndian.PutUint16(b[4:], h.stream)
	b[6] = h.op
	b[7] = h.flags
}

// parseHeader decodes b[:headerSize], rejecting oversized payloads.
func parseHeader(b []byte) (header, error) {
	h := header{
		length: binary.LittleEndian.Uint32(b),
		stream: binary.LittleEndian.Uint16(b[4:]),
		op:     b[6],
		flags:  b[7],
	}
	if h.length > maxPayload {
		return h, fmt.Errorf("%w (%d)", errFrameTooLarge, h.length)
	}
	return h, nil
}

// fillPing fills req as a ping asking for want bytes back: want, then
// bytes derived from seed, so every message differs.
func fillPing(req []byte, want int, seed uint64) {
	binary.LittleEndian.PutUint32(req, uint32(want))
	x := seed*0x9E3779B97F4A7C15 + 1
	for i := 4; i < len(req); i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		req[i] = byte(x)
	}
}

// checkPong reports whether resp is the peer's correct answer to req.
func checkPong(req, resp []byte) error {
	want := int(binary.LittleEndian.Uint32(req))
	if len(resp) != want {
		return fmt.Errorf("ring bench: answer of %d bytes, want %d", len(resp), want)
	}
	for i, b := range resp {
		if b != req[len(req)-1-i] {
			return fmt.Errorf("ring bench: answer differs at byte %d", i)
		}
	}
	return nil
}
