package middleware

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// NewLogHandler returns a slog.Handler that writes the same JSON lines as
// slog.NewJSONHandler(w, opts), byte for byte, with less work per record:
// one pooled buffer, values formatted by kind with strconv (floats
// included, as encoding/json formats them) and no reflection except for
// slog.Any values that are neither errors nor of a basic kind (those go
// through encoding/json, as with slog). It is meant for the access log,
// whose records carry only strings, numbers and groups:
//
//	lw := middleware.NewLogWriter(os.Stderr, 0)
//	defer lw.Close()
//	logger := slog.New(middleware.NewLogHandler(lw, nil))
//
// opts works as for slog.NewJSONHandler; with ReplaceAttr or AddSource set,
// or after WithGroup, it returns slog's own JSON handler (same output).
// Each record is one Write to w, under a mutex shared by the handlers
// derived with WithAttrs.
func NewLogHandler(w io.Writer, opts *slog.HandlerOptions) slog.Handler {
	if opts == nil {
		opts = &slog.HandlerOptions{}
	}
	if opts.ReplaceAttr != nil || opts.AddSource {
		return slog.NewJSONHandler(w, opts)
	}
	return &logHandler{
		w: w, opts: *opts, mu: new(sync.Mutex),
		pool: &sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }},
	}
}

// logHandler is NewLogHandler's handler.
type logHandler struct {
	w     io.Writer
	opts  slog.HandlerOptions
	mu    *sync.Mutex
	pool  *sync.Pool  // of *[]byte
	attrs []slog.Attr // from WithAttrs, for WithGroup's slog handler
	pre   []byte      // attrs, formatted, each with its leading comma
}

func (h *logHandler) Enabled(_ context.Context, l slog.Level) bool {
	min := slog.LevelInfo
	if h.opts.Level != nil {
		min = h.opts.Level.Level()
	}
	return l >= min
}

func (h *logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	h2 := *h
	h2.attrs = append(h.attrs[:len(h.attrs):len(h.attrs)], attrs...)
	pre := append([]byte{'"'}, h.pre...) // not '{': every attribute gets its comma
	for _, a := range attrs {
		pre = appendJSONAttr(pre, a)
	}
	h2.pre = pre[1:]
	return &h2
}

// WithGroup returns slog's JSON handler with the same writer, options and
// attributes: grouped loggers are not the access log's path.
func (h *logHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return slog.NewJSONHandler(&lockedWriter{h.w, h.mu}, &h.opts).WithAttrs(h.attrs).WithGroup(name)
}

func (h *logHandler) Handle(_ context.Context, r slog.Record) error {
	return h.write(r.Time, r.Level, r.Message, &r, nil)
}

// write formats and writes one line: the attributes of r if not nil, else
// attrs. The access log calls it with attrs, skipping the slog.Record
// (which copies the attributes past its fifth into a new slice).
func (h *logHandler) write(t time.Time, level slog.Level, msg string, r *slog.Record, attrs []slog.Attr) error {
	bp := h.pool.Get().(*[]byte)
	b := append((*bp)[:0], '{')
	if !t.IsZero() {
		b = append(b, `"time":`...)
		b = appendJSONTime(b, t.Round(0))
		b = append(b, ',')
	}
	b = append(b, `"level":`...)
	b = appendJSONString(b, level.String())
	b = append(b, `,"msg":`...)
	b = appendJSONString(b, msg)
	b = append(b, h.pre...)
	if r != nil {
		r.Attrs(func(a slog.Attr) bool {
			b = appendJSONAttr(b, a)
			return true
		})
	}
	for _, a := range attrs {
		b = appendJSONAttr(b, a)
	}
	b = append(b, '}', '\n')
	h.mu.Lock()
	_, err := h.w.Write(b)
	h.mu.Unlock()
	if cap(b) <= 64<<10 {
		*bp = b
		h.pool.Put(bp)
	}
	return err
}

// lockedWriter serialises writes with the handler's mutex.
type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// appendJSONAttr appends ,"key":value (no comma right after an opening
// brace), skipping empty attributes and groups as slog does.
func appendJSONAttr(b []byte, a slog.Attr) []byte {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return b
	}
	if a.Value.Kind() == slog.KindGroup {
		attrs := a.Value.Group()
		if len(attrs) == 0 {
			return b
		}
		if a.Key == "" { // inlined
			for _, ga := range attrs {
				b = appendJSONAttr(b, ga)
			}
			return b
		}
		b = appendComma(b)
		b = appendJSONString(b, a.Key)
		b = append(b, ':', '{')
		for _, ga := range attrs {
			b = appendJSONAttr(b, ga)
		}
		return append(b, '}')
	}
	b = appendComma(b)
	b = appendJSONString(b, a.Key)
	b = append(b, ':')
	return appendJSONValue(b, a.Value)
}

func appendComma(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] != '{' {
		b = append(b, ',')
	}
	return b
}

func appendJSONValue(b []byte, v slog.Value) []byte {
	switch v.Kind() {
	case slog.KindString:
		return appendJSONString(b, v.String())
	case slog.KindInt64:
		return strconv.AppendInt(b, v.Int64(), 10)
	case slog.KindUint64:
		return strconv.AppendUint(b, v.Uint64(), 10)
	case slog.KindFloat64:
		return appendJSONFloat(b, v.Float64())
	case slog.KindBool:
		return strconv.AppendBool(b, v.Bool())
	case slog.KindDuration:
		return strconv.AppendInt(b, int64(v.Duration()), 10)
	case slog.KindTime:
		return appendJSONTime(b, v.Time())
	}
	a := v.Any()
	_, jm := a.(json.Marshaler)
	if err, ok := a.(error); ok && !jm {
		return appendJSONString(b, err.Error())
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(a); err != nil {
		return appendJSONString(b, fmt.Sprintf("!ERROR:%v", err))
	}
	return append(b, bytes.TrimRight(buf.Bytes(), "\n")...)
}

// appendJSONFloat formats f as encoding/json does: like strconv's
// shortest 'f' form, or 'e' with a two-digit-minimum exponent trimmed,
// for magnitudes below 1e-6 or from 1e21.
func appendJSONFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return appendJSONString(b, fmt.Sprintf("!ERROR:json: unsupported value: %s", strconv.FormatFloat(f, 'g', -1, 64)))
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// 1e-07 -> 1e-7
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

func appendJSONTime(b []byte, t time.Time) []byte {
	if y := t.Year(); y < 0 || y >= 10000 {
		return appendJSONString(b, "!ERROR:time.Time year outside of range [0,9999]")
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// appendJSONString appends s quoted: '"' and '\\' escaped, control
// characters as \n, \r, \t or \u00XX, invalid UTF-8 as \ufffd, and U+2028
// and U+2029 escaped; '<', '>' and '&' are kept, as slog keeps them.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
