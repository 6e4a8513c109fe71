//go:build !linux

package wsgi

// reaper reaps orphaned processes on Linux when graft is PID 1 (see
// reap_linux.go). Elsewhere there is none: containers run Linux.
type reaper struct{}

// processReaper returns nil: no reaper outside Linux.
func processReaper() (*reaper, error) { return nil, nil }

// nudge does nothing: there is no reaper.
func (r *reaper) nudge() {}
