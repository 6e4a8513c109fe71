package wsgi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// TextHandler is a [slog.Handler] for people reading logs in a terminal:
// it writes records like [slog.TextHandler], except that string values
// that span several lines — Python tracebacks (error.stack_trace), stack
// dumps (graft.stack), a Python log message with its exception — are
// printed after the record's line, one indented block per value, instead
// of as one quoted line full of \n escapes:
//
//	time=… level=ERROR msg="wsgi: request failed" http.request.method=GET url.path=/boom error="…"
//	  error.stack_trace:
//	    Traceback (most recent call last):
//	      File "/srv/app/views.py", line 12, in boom
//	    ZeroDivisionError: division by zero
//
// Every continuation line is indented, so a value cannot pass for a record
// of its own, and control characters other than tab are escaped. Only
// top-level attributes (the record's and those of Logger.With) are moved
// below the line; values in groups (and all of a record's attributes
// after Logger.WithGroup) stay quoted in it. For machines, use
// [slog.JSONHandler], which keeps each value as one string.
//
// The line is the one slog.TextHandler writes, byte for byte, but
// TextHandler formats it itself, into one pooled buffer, with values
// formatted by kind (strconv for numbers, fmt's %+v only for slog.Any
// values that are neither TextMarshalers nor byte slices, as slog does),
// Logger.With's attributes formatted once and Logger.WithGroup's names
// kept as a key prefix. With [slog.HandlerOptions] ReplaceAttr or
// AddSource set, it hands the line to slog.TextHandler instead (same
// output, more work per record). Each record is one Write to w, under a
// mutex shared by the handlers derived from one NewTextHandler.
type TextHandler struct {
	out   *textOut
	level slog.Leveler // nil: slog.LevelInfo
	// inner is set with ReplaceAttr or AddSource: a slog.TextHandler
	// writing into out.buf, which formats the line.
	inner slog.Handler
	// pre holds the attributes of Logger.With, formatted (each after a
	// space), and prefix the group names for the record's keys (each
	// followed by a dot), when inner is nil.
	pre    []byte
	prefix string
	// block holds the multi-line values of Logger.With, printed after each
	// record's line.
	block []slog.Attr
	group bool // WithGroup was called: With's attrs belong to a group
}

// textOut is what the handlers derived from one TextHandler share: the
// writer and its mutex, the pool of line buffers, and the buffer inner
// formats a line into.
type textOut struct {
	mu   sync.Mutex
	w    io.Writer
	buf  []byte
	pool sync.Pool // of *textLine
}

func (o *textOut) Write(p []byte) (int, error) {
	o.buf = append(o.buf, p...)
	return len(p), nil
}

// NewTextHandler returns a TextHandler writing to w, with opts as for
// slog.NewTextHandler (nil: the defaults).
func NewTextHandler(w io.Writer, opts *slog.HandlerOptions) *TextHandler {
	return newTextHandler(w, opts, opts != nil && (opts.ReplaceAttr != nil || opts.AddSource))
}

// newTextHandler is NewTextHandler; viaSlog makes it hand every line to
// slog.TextHandler (as the tests do, to compare the two ways).
func newTextHandler(w io.Writer, opts *slog.HandlerOptions, viaSlog bool) *TextHandler {
	if opts == nil {
		opts = &slog.HandlerOptions{}
	}
	out := &textOut{w: w}
	out.pool.New = func() any { return &textLine{b: make([]byte, 0, 1024)} }
	h := &TextHandler{out: out, level: opts.Level}
	if viaSlog {
		h.inner = slog.NewTextHandler(out, opts)
	}
	return h
}

// Enabled implements slog.Handler: it reports whether level is at least
// the Level option (slog.LevelInfo if nil).
func (h *TextHandler) Enabled(_ context.Context, level slog.Level) bool {
	min := slog.LevelInfo
	if h.level != nil {
		min = h.level.Level()
	}
	return level >= min
}

// Handle implements slog.Handler: one Write to w per record, its line and
// then its multi-line values.
func (h *TextHandler) Handle(ctx context.Context, r slog.Record) error {
	if h.inner != nil {
		return h.handleSlog(ctx, r)
	}
	return h.write(r.Time, r.Level, r.Message, &r, nil)
}

// HandleAttrs writes what Handle writes for a record of time t (none if
// zero), level, msg and attrs, without a slog.Record (which copies the
// attributes past its fifth into a new slice). Like Handle, it does not
// check Enabled. graft's access log calls it for each request.
func (h *TextHandler) HandleAttrs(ctx context.Context, t time.Time, level slog.Level, msg string, attrs []slog.Attr) error {
	if h.inner != nil {
		r := slog.NewRecord(t, level, msg, 0)
		r.AddAttrs(attrs...)
		return h.handleSlog(ctx, r)
	}
	return h.write(t, level, msg, nil, attrs)
}

// write formats and writes one record: the attributes of r if not nil,
// else attrs.
func (h *TextHandler) write(t time.Time, level slog.Level, msg string, r *slog.Record, attrs []slog.Attr) error {
	l := h.out.pool.Get().(*textLine)
	l.b = l.b[:0]
	l.prefix = append(l.prefix[:0], h.prefix...)
	var block []slog.Attr // the record's multi-line values
	if !t.IsZero() {
		l.b = append(l.b, "time="...)
		l.b = appendTextTime(l.b, t.Round(0))
		l.b = append(l.b, ' ')
	}
	l.b = append(l.b, "level="...)
	l.b = appendTextString(l.b, level.String())
	l.b = append(l.b, " msg="...)
	if first, rest, ok := strings.Cut(msg, "\n"); ok {
		msg = first
		block = append(block, slog.String(slog.MessageKey, rest))
	}
	l.b = appendTextString(l.b, msg)
	l.b = append(l.b, h.pre...)
	add := func(a slog.Attr) bool {
		k := a.Value.Kind()
		if k == slog.KindLogValuer {
			a.Value = a.Value.Resolve()
			k = a.Value.Kind()
		}
		if k == slog.KindString && !h.group && strings.Contains(a.Value.String(), "\n") {
			block = append(block, a)
			return true
		}
		l.appendResolved(a, k)
		return true
	}
	if r != nil {
		r.Attrs(add)
	}
	for _, a := range attrs {
		add(a)
	}
	l.b = append(l.b, '\n')
	for _, a := range block {
		l.b = appendBlock(l.b, a.Key, a.Value.String())
	}
	for _, a := range h.block {
		l.b = appendBlock(l.b, a.Key, a.Value.String())
	}
	h.out.mu.Lock()
	_, err := h.out.w.Write(l.b)
	h.out.mu.Unlock()
	if cap(l.b) <= 64<<10 && cap(l.prefix) <= 64<<10 {
		h.out.pool.Put(l) // not one huge record's buffer
	}
	return err
}

// handleSlog is Handle with inner formatting the line. Most records
// (access lines among them) have no multi-line value: they go to inner as
// they are, and if the line it formats has no escaped newline (\n), which
// every string value with a newline would show, the line is final.
// Otherwise the record is formatted again without its multi-line values,
// which go below it.
func (h *TextHandler) handleSlog(ctx context.Context, r slog.Record) error {
	h.out.mu.Lock()
	defer h.out.mu.Unlock()
	h.out.buf = h.out.buf[:0]
	block := h.block
	if !strings.Contains(r.Message, "\n") {
		if err := h.inner.Handle(ctx, r); err != nil {
			return err
		}
		if h.group || !bytes.Contains(h.out.buf, []byte(escapedNewline)) {
			return h.flush(block)
		}
		h.out.buf = h.out.buf[:0]
	}
	block = nil
	msg := r.Message
	if first, rest, ok := strings.Cut(msg, "\n"); ok {
		msg = first
		block = append(block, slog.String(slog.MessageKey, rest))
	}
	line := slog.NewRecord(r.Time, r.Level, msg, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		a.Value = a.Value.Resolve()
		if !h.group && multiLine(a.Value) {
			block = append(block, a)
		} else {
			line.AddAttrs(a)
		}
		return true
	})
	block = append(block, h.block...)
	if err := h.inner.Handle(ctx, line); err != nil {
		return err
	}
	return h.flush(block)
}

// escapedNewline is how slog's text handler writes a newline in a value.
const escapedNewline = `\n`

// flush writes inner's line, then block below it, in one Write; the
// caller holds h.out.mu.
func (h *TextHandler) flush(block []slog.Attr) error {
	for _, a := range block {
		h.out.buf = appendBlock(h.out.buf, a.Key, a.Value.String())
	}
	_, err := h.out.w.Write(h.out.buf)
	if cap(h.out.buf) > 64<<10 {
		h.out.buf = nil // do not keep one huge record's buffer
	}
	return err
}

// multiLine reports whether v is a string of several lines.
func multiLine(v slog.Value) bool {
	return v.Kind() == slog.KindString && strings.Contains(v.String(), "\n")
}

// appendBlock appends a multi-line value below a record's line: the key
// indented by two spaces, then each line of the value by four.
func appendBlock(b []byte, key, value string) []byte {
	b = append(b, "  "...)
	b = appendEscaped(b, key)
	b = append(b, ":\n"...)
	for _, l := range strings.Split(strings.TrimRight(value, "\n"), "\n") {
		b = append(b, "    "...)
		b = appendEscaped(b, strings.TrimSuffix(l, "\r"))
		b = append(b, '\n')
	}
	return b
}

// appendEscaped appends s with control characters (but tab) and invalid
// UTF-8 escaped, so that a value cannot move the terminal's cursor or
// start a line of its own.
func appendEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != 0x7f && c < utf8.RuneSelf || c == '\t' {
			b = append(b, c)
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 || r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			for _, x := range []byte(s[i : i+n]) {
				b = fmt.Appendf(b, `\x%02x`, x)
			}
		} else {
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return b
}

// WithAttrs implements slog.Handler: top-level multi-line values go to
// the block below each record's line, the others are formatted once.
func (h *TextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	h2 := *h
	if h.inner != nil && h.group {
		h2.inner = h.inner.WithAttrs(attrs)
		return &h2
	}
	h2.block = h.block[:len(h.block):len(h.block)]
	var inline []slog.Attr
	if !h.group {
		for _, a := range attrs {
			a.Value = a.Value.Resolve()
			if multiLine(a.Value) {
				h2.block = append(h2.block, a)
			} else {
				inline = append(inline, a)
			}
		}
	} else {
		inline = attrs
	}
	if h.inner != nil {
		h2.inner = h.inner.WithAttrs(inline)
		return &h2
	}
	// As slog's: if no attribute was written, neither the attributes nor
	// the prefix change.
	l := textLine{b: h.pre[:len(h.pre):len(h.pre)], prefix: []byte(h.prefix)}
	written := false
	for _, a := range inline {
		if l.appendAttr(a) {
			written = true
		}
	}
	if written {
		h2.pre, h2.prefix = l.b, string(l.prefix)
	}
	return &h2
}

// WithGroup implements slog.Handler: the record's keys (and those of
// later Logger.With calls) get name and a dot before them, and all their
// values stay in the line.
func (h *TextHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	if h.inner != nil {
		h2.inner = h.inner.WithGroup(name)
	} else {
		h2.prefix = h.prefix + name + "."
	}
	h2.group = true
	return &h2
}
