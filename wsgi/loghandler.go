package wsgi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
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
type TextHandler struct {
	inner slog.Handler // a slog.TextHandler writing into out.buf
	out   *textOut
	// block holds the multi-line values of Logger.With, printed after each
	// record's line.
	block []slog.Attr
	group bool // WithGroup was called: With's attrs belong to a group
}

// textOut is what the handlers derived from one TextHandler share: the
// writer, and the buffer the inner handler formats a line into.
type textOut struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

func (o *textOut) Write(p []byte) (int, error) {
	o.buf = append(o.buf, p...)
	return len(p), nil
}

// NewTextHandler returns a TextHandler writing to w, with opts as for
// slog.NewTextHandler (nil: the defaults).
func NewTextHandler(w io.Writer, opts *slog.HandlerOptions) *TextHandler {
	out := &textOut{w: w}
	return &TextHandler{inner: slog.NewTextHandler(out, opts), out: out}
}

// Enabled implements slog.Handler.
func (h *TextHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.inner.Enabled(ctx, level)
}

// Handle implements slog.Handler: one Write to w per record, its line and
// then its multi-line values.
//
// Most records (access lines among them) have no multi-line value: they
// go to the inner handler as they are, and if the line it formats has no
// escaped newline (\n), which every string value with a newline would
// show, the line is final. Otherwise the record is formatted again without
// its multi-line values, which go below it.
func (h *TextHandler) Handle(ctx context.Context, r slog.Record) error {
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

// flush writes the formatted line, then block below it, in one Write; the
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

// WithAttrs implements slog.Handler.
func (h *TextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	h2 := *h
	if h.group {
		h2.inner = h.inner.WithAttrs(attrs)
		return &h2
	}
	var inline []slog.Attr
	h2.block = h.block[:len(h.block):len(h.block)]
	for _, a := range attrs {
		a.Value = a.Value.Resolve()
		if multiLine(a.Value) {
			h2.block = append(h2.block, a)
		} else {
			inline = append(inline, a)
		}
	}
	h2.inner = h.inner.WithAttrs(inline)
	return &h2
}

// WithGroup implements slog.Handler.
func (h *TextHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.inner = h.inner.WithGroup(name)
	h2.group = true
	return &h2
}
