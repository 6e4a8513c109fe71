package wsgi

import "sync"

// bufPool recycles byte buffers (encoded requests). Buffers that grew past
// 256 KiB are dropped rather than kept. The zero value is ready to use.
type bufPool struct{ p sync.Pool }

func (bp *bufPool) get() *[]byte {
	if b, ok := bp.p.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, 4096)
	return &b
}

func (bp *bufPool) put(b *[]byte) {
	if cap(*b) <= 256<<10 {
		*b = (*b)[:0]
		bp.p.Put(b)
	}
}

// pairsPool recycles environ key/value slices. The zero value is ready.
type pairsPool struct{ p sync.Pool }

func (pp *pairsPool) get() *[]string {
	if s, ok := pp.p.Get().(*[]string); ok {
		return s
	}
	s := make([]string, 0, 64)
	return &s
}

func (pp *pairsPool) put(s *[]string) {
	clear(*s) // drop references to request strings
	*s = (*s)[:0]
	pp.p.Put(s)
}
