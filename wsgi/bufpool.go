package wsgi

import "sync"

// bufs recycles the buffers requests are encoded into. Buffers that grew
// past 256 KiB are dropped rather than kept.
var bufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func getBuf() *[]byte { return bufs.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) <= 256<<10 {
		*b = (*b)[:0]
		bufs.Put(b)
	}
}
