package middleware

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strings"
)

// panicLevel is the handler of the logger httplog's RequestLogger logs on
// in the httplog mode: the line of a request whose handler panicked with
// anything but http.ErrAbortHandler is logged at ERROR, as graft's own
// mode logs it, where httplog takes the level from the status sent (INFO
// for a panic after a 2xx). Options.Level is applied here, after that,
// instead of by httplog (newHTTPLogLogger gives httplog the lowest
// level), so that such a line is not dropped under a Level of WARN.
//
// A panic is known by annotate's mark (the handler did not return) and
// by the line's error message, httplog's "panic: " and the value (the
// value is not taken from the panic: recovering it and panicking again
// would put annotate's frames first in the stack httplog logs).
type panicLevel struct {
	slog.Handler
	min slog.Level // Options.Level
}

// abortMessage is httplog's error message for a panic with
// http.ErrAbortHandler, whose line keeps the status's level, as in
// graft's mode.
var abortMessage = fmt.Sprint("panic: ", http.ErrAbortHandler)

// newHTTPLogLogger returns the logger and the minimum level to give
// httplog's RequestLogger for logger and Options.Level min.
func newHTTPLogLogger(logger *slog.Logger, min slog.Level) (*slog.Logger, slog.Level) {
	return slog.New(panicLevel{Handler: logger.Handler(), min: min}), slog.Level(math.MinInt)
}

// unreturned reports whether the handler of ctx's request did not return.
func unreturned(ctx context.Context) bool {
	c := infoFrom(ctx)
	return c != nil && c.access.unreturned
}

// Enabled reports whether a line at l, or at ERROR should it tell of a
// panic, would be logged: Handle decides once it has the line.
func (h panicLevel) Enabled(ctx context.Context, l slog.Level) bool {
	if unreturned(ctx) && l < slog.LevelError && h.Enabled(ctx, slog.LevelError) {
		return true
	}
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h panicLevel) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelError && unreturned(ctx) && panicLine(r) {
		r.Level = slog.LevelError
	}
	if r.Level < h.min || !h.Handler.Enabled(ctx, r.Level) {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

// panicLine reports whether r tells of a panic other than
// http.ErrAbortHandler: an attribute, in a group or not (GroupDelimiter
// schemas), whose value is httplog's "panic: " message.
func panicLine(r slog.Record) bool {
	found := false
	var walk func(a slog.Attr) bool
	walk = func(a slog.Attr) bool {
		switch v := a.Value.Resolve(); v.Kind() {
		case slog.KindGroup:
			for _, g := range v.Group() {
				if !walk(g) {
					return false
				}
			}
		case slog.KindString:
			if s := v.String(); strings.HasPrefix(s, "panic: ") && s != abortMessage {
				found = true
				return false
			}
		}
		return true
	}
	r.Attrs(walk)
	return found
}

func (h panicLevel) WithAttrs(attrs []slog.Attr) slog.Handler {
	return panicLevel{Handler: h.Handler.WithAttrs(attrs), min: h.min}
}

func (h panicLevel) WithGroup(name string) slog.Handler {
	return panicLevel{Handler: h.Handler.WithGroup(name), min: h.min}
}
