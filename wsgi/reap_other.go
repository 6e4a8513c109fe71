//go:build !linux

package wsgi

// reaper reaps orphaned processes on Linux when graft is PID 1 or a child
// subreaper (see reap_linux.go). Elsewhere there is none: containers run
// Linux.
type reaper struct{}

// subreaperSupported: Config.ChildSubreaper works here.
const subreaperSupported = false

// processReaper returns nil: no reaper outside Linux (New refuses
// ChildSubreaper).
func processReaper(bool) (*reaper, error) { return nil, nil }

// nudge does nothing: there is no reaper.
func (r *reaper) nudge() {}
