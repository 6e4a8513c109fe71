package migrate

import (
	"fmt"
	"time"
)

// windowSlots is how many slots the rollback window is cut into.
const windowSlots = 12

// window holds the recent rates of one route, in slots of Window/12.
type window struct {
	slots [windowSlots]slot
}

type slot struct {
	start                time.Time
	goReq, go5xx         int
	pyReq, py5xx         int
	compared, mismatched int
}

// current returns the slot for now, resetting a stale one.
func (w *window) current(now time.Time, span time.Duration) *slot {
	width := span / windowSlots
	start := now.Truncate(width)
	s := &w.slots[int(start.UnixNano()/int64(width))%windowSlots]
	if !s.start.Equal(start) {
		*s = slot{start: start}
	}
	return s
}

// sum adds up the slots within span of now.
func (w *window) sum(now time.Time, span time.Duration) slot {
	var t slot
	for _, s := range w.slots {
		if now.Sub(s.start) < span {
			t.goReq += s.goReq
			t.go5xx += s.go5xx
			t.pyReq += s.pyReq
			t.py5xx += s.py5xx
			t.compared += s.compared
			t.mismatched += s.mismatched
		}
	}
	return t
}

// rollbackable reports whether automatic rollback applies to the route:
// it has a configuration, its own or, for a HEAD that follows it, its GET
// route's (an unconfigured route keeps today's behaviour), and a fallback
// to drop to.
func (rs *routeState) rollbackable() bool { return (rs.configured || rs.followsGet) && rs.covered }

// window counts a request served in the canary or go stage and rolls the
// route back if Go's 5xx rate calls for it.
func (m *Migrator) window(rs *routeState, side Side, status int) {
	if m.o.Rollback.Disabled || rs.rollback != nil {
		return
	}
	p := m.o.Rollback
	now := m.now()
	st := rs.stats
	st.mu.Lock()
	if st.epoch != rs.epoch { // started before a person's decision
		st.mu.Unlock()
		return
	}
	s := st.win.current(now, p.Window)
	fail := status >= 500
	if side == SideGo {
		s.goReq++
		if fail {
			s.go5xx++
		}
	} else {
		s.pyReq++
		if fail {
			s.py5xx++
		}
	}
	var reason string
	if side == SideGo && fail {
		t := st.win.sum(now, p.Window)
		goRate, pyRate := rate(t.go5xx, t.goReq), rate(t.py5xx, t.pyReq)
		if t.goReq >= p.MinRequests && goRate > p.Threshold && pyRate <= p.Threshold {
			reason = fmt.Sprintf("go 5xx rate %.1f%% (%d of %d requests in %s) is above %.1f%%; python's is %.1f%% (%d of %d)",
				100*goRate, t.go5xx, t.goReq, p.Window, 100*p.Threshold, 100*pyRate, t.py5xx, t.pyReq)
		}
	}
	st.mu.Unlock()
	if reason != "" {
		m.rollbackFrom(rs, reason)
	}
}

// windowCompare counts a reverse-shadow comparison and rolls the route
// back if Go's mismatch rate calls for it.
func (m *Migrator) windowCompare(rs *routeState, mismatch bool) {
	if m.o.Rollback.Disabled || rs.rollback != nil {
		return
	}
	p := m.o.Rollback
	now := m.now()
	st := rs.stats
	st.mu.Lock()
	if st.epoch != rs.epoch { // started before a person's decision
		st.mu.Unlock()
		return
	}
	s := st.win.current(now, p.Window)
	s.compared++
	var reason string
	if mismatch {
		s.mismatched++
		t := st.win.sum(now, p.Window)
		if r := rate(t.mismatched, t.compared); t.compared >= p.MinRequests && r > p.Threshold {
			reason = fmt.Sprintf("go mismatch rate %.1f%% (%d of %d reverse-shadow comparisons in %s) is above %.1f%%",
				100*r, t.mismatched, t.compared, p.Window, 100*p.Threshold)
		}
	}
	st.mu.Unlock()
	if reason != "" {
		m.rollbackFrom(rs, reason)
	}
}

// rollbackFrom rolls back the line that route rs follows, after a
// decision taken from its window: its own, or, for a HEAD route that
// follows its GET route's line, that line (the reason then names the
// HEAD), since the HEAD has no line of its own to roll back.
func (m *Migrator) rollbackFrom(rs *routeState, reason string) {
	if rs.line != rs.key {
		reason = rs.key + ": " + reason
	}
	m.rollbackLine(rs.line, rs.key, reason, rs.epoch)
}

func rate(n, d int) float64 {
	if d == 0 {
		return 0
	}
	return float64(n) / float64(d)
}
