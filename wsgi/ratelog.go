package wsgi

import (
	"sync"
	"time"
)

// rateLog lets through one log line a second of an event that can come by
// the thousand a second, such as a request refused because every worker is
// busy under overload, and counts the others: each line it lets through
// says how many were left out since the last one (graft.suppressed). The
// zero value is ready to use.
type rateLog struct {
	mu      sync.Mutex
	last    time.Time // when a line was last let through
	dropped int       // events left out since then
}

// rateLogEvery is the least time between two lines of a rateLog.
const rateLogEvery = time.Second

// allow reports whether an event at now is logged and, if so, how many
// were left out before it.
func (r *rateLog) allow(now time.Time) (ok bool, dropped int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.last.IsZero() && now.Sub(r.last) < rateLogEvery {
		r.dropped++
		return false, 0
	}
	dropped, r.dropped, r.last = r.dropped, 0, now
	return true, dropped
}
