package middleware

import (
	"encoding/binary"
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// idGenerator makes UUIDv7 request ids (RFC 9562 §5.7): 48 bits of Unix
// milliseconds, then rand_a used as a 12-bit counter within the
// millisecond (§6.2, method 1) so that the ids of one generator are
// strictly increasing, then 62 random bits. When more than 4096 ids are
// made in a millisecond, or the clock steps back, the counter carries into
// the timestamp, which runs ahead until the clock catches up. The random
// bits come from math/rand/v2's generator (ChaCha8, per thread, seeded by
// the runtime from the system): request ids are unique and unguessable
// enough for logs and tracing, never secrets. The zero value is ready.
type idGenerator struct {
	last atomic.Uint64 // milliseconds<<12 | counter of the last id
}

const hexDigits = "0123456789abcdef"

// next returns a new id, in the canonical 36-character form.
func (g *idGenerator) next() string { return g.at(time.Now()) }

// at returns a new id made at t, a time just read from the clock (the
// caller's, which it uses too: a clock read costs about 0.2 µs on a
// virtual machine).
func (g *idGenerator) at(t time.Time) string {
	now := uint64(t.UnixMilli()) << 12
	var v uint64
	for {
		last := g.last.Load()
		v = max(now, last+1)
		if g.last.CompareAndSwap(last, v) {
			break
		}
	}
	var u [16]byte
	binary.BigEndian.PutUint64(u[0:8], (v>>12)<<16|0x7000|v&0xfff)
	binary.BigEndian.PutUint64(u[8:16], rand.Uint64()>>2|1<<63) // variant 10
	return formatUUID(&u)
}

// formatUUID returns u as xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx.
func formatUUID(u *[16]byte) string {
	var b [36]byte
	j := 0
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b[j] = '-'
			j++
		}
		b[j], b[j+1] = hexDigits[c>>4], hexDigits[c&0xf]
		j += 2
	}
	return string(b[:])
}
