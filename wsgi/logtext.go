package wsgi

import (
	"encoding"
	"fmt"
	"log/slog"
	"reflect"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"
)

// textLine formats one record's attributes as slog's text handler does:
// b is the line, prefix the dotted group names that precede the next
// key (the groups of Logger.WithGroup, then those of group values being
// written).
type textLine struct {
	b      []byte
	prefix []byte
}

// appendAttr appends " key=value" (a group's attributes, with dotted
// keys) and reports whether slog would count a as written: an empty
// attribute is not, an empty group is (as with slog), and a group whose
// attributes are all empty is not. Like slog's, it does not take a
// group's name back off the prefix when nothing of the group was
// written; the attributes after it get the group's name.
func (l *textLine) appendAttr(a slog.Attr) bool {
	a.Value = a.Value.Resolve()
	if a.Key == "" && a.Value.Kind() == slog.KindAny && a.Value.Any() == nil {
		return false
	}
	if a.Value.Kind() == slog.KindAny {
		if src, ok := a.Value.Any().(*slog.Source); ok {
			if src == nil || *src == (slog.Source{}) {
				return false
			}
			a.Value = slog.StringValue(fmt.Sprintf("%s:%d", src.File, src.Line))
		}
	}
	if a.Value.Kind() != slog.KindGroup {
		l.appendKey(a.Key)
		l.b = appendTextValue(l.b, a.Value)
		return true
	}
	attrs := a.Value.Group()
	if len(attrs) == 0 {
		return true
	}
	pos := len(l.b)
	if a.Key != "" {
		l.prefix = append(append(l.prefix, a.Key...), '.')
	}
	written := false
	for _, ga := range attrs {
		if l.appendAttr(ga) {
			written = true
		}
	}
	if !written {
		l.b = l.b[:pos]
		return false
	}
	if a.Key != "" {
		l.prefix = l.prefix[:len(l.prefix)-len(a.Key)-1]
	}
	return true
}

// appendKey appends a space and key=, the key after the group prefix,
// quoted if the prefix or the key needs it.
func (l *textLine) appendKey(key string) {
	l.b = append(l.b, ' ')
	switch {
	case len(l.prefix) == 0:
		l.b = appendTextString(l.b, key)
	case !needsQuoting(string(l.prefix)) && !needsQuoting(key):
		l.b = append(append(l.b, l.prefix...), key...)
	default:
		l.b = strconv.AppendQuote(l.b, string(l.prefix)+key)
	}
	l.b = append(l.b, '=')
}

// appendTextValue appends a resolved value that is not a group as slog's
// text handler does: strings quoted if they need it, times in
// RFC 3339 with milliseconds, numbers, booleans and durations bare.
func appendTextValue(b []byte, v slog.Value) []byte {
	switch v.Kind() {
	case slog.KindString:
		return appendTextString(b, v.String())
	case slog.KindInt64:
		return strconv.AppendInt(b, v.Int64(), 10)
	case slog.KindUint64:
		return strconv.AppendUint(b, v.Uint64(), 10)
	case slog.KindFloat64:
		return strconv.AppendFloat(b, v.Float64(), 'g', -1, 64)
	case slog.KindBool:
		return strconv.AppendBool(b, v.Bool())
	case slog.KindDuration:
		return append(b, v.Duration().String()...)
	case slog.KindTime:
		return appendTextTime(b, v.Time())
	}
	return appendTextAny(b, v.Any())
}

// appendTextAny appends an Any value: a TextMarshaler's text, a byte
// slice quoted, anything else (errors among them) as with fmt's %+v. A
// panic in MarshalText is written as slog writes it: <nil> for a nil
// pointer, else !PANIC: and the panic's value.
func appendTextAny(b []byte, x any) (out []byte) {
	n := len(b)
	defer func() {
		if p := recover(); p != nil {
			if v := reflect.ValueOf(x); v.Kind() == reflect.Pointer && v.IsNil() {
				out = appendTextString(b[:n], "<nil>")
				return
			}
			out = appendTextString(b[:n], fmt.Sprintf("!PANIC: %v", p))
		}
	}()
	if tm, ok := x.(encoding.TextMarshaler); ok {
		data, err := tm.MarshalText()
		if err != nil {
			return appendTextString(b, fmt.Sprintf("!ERROR:%v", err))
		}
		return appendTextString(b, string(data))
	}
	if bs, ok := x.([]byte); ok {
		return strconv.AppendQuote(b, string(bs))
	}
	// Like fmt's %s, slog takes named byte slices and named bytes too.
	if t := reflect.TypeOf(x); t != nil && t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 {
		return strconv.AppendQuote(b, string(reflect.ValueOf(x).Bytes()))
	}
	return appendTextString(b, fmt.Sprintf("%+v", x))
}

// appendTextString appends s, quoted as by strconv.Quote if it needs to be.
func appendTextString(b []byte, s string) []byte {
	if needsQuoting(s) {
		return strconv.AppendQuote(b, s)
	}
	return append(b, s...)
}

// needsQuoting reports whether slog's text handler quotes s: when it is
// empty or holds a space, '=', '"', an ASCII control character, invalid
// UTF-8 (or U+FFFD), a Unicode space or a character that is not
// printable. A backslash alone, and DEL, are written as they are.
func needsQuoting(s string) bool {
	if s == "" {
		return true
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c <= ' ' || c == '=' || c == '"' {
				return true
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return true
		}
		i += n
	}
	return false
}

// appendTextTime appends t as slog's text handler does: RFC 3339 with
// exactly three digits of fraction (truncated, not rounded), and the
// zone's offset in hours and minutes.
func appendTextTime(b []byte, t time.Time) []byte {
	const date = len("2006-01-02T15:04:05")
	n := len(b)
	if y := t.Year(); y < 1 || y > 9999 {
		// slog's own way, whose byte arithmetic assumes a four-digit
		// year: its output for other years is kept as it is.
		t = t.Truncate(time.Millisecond).Add(time.Millisecond / 10)
		b = t.AppendFormat(b, time.RFC3339Nano)
		return append(b[:n+date+4], b[n+date+5:]...)
	}
	b = t.AppendFormat(b, time.RFC3339)
	ms := t.Nanosecond() / 1e6
	b = append(b, "0000"...)
	copy(b[n+date+4:], b[n+date:len(b)-4])
	b[n+date] = '.'
	b[n+date+1] = byte('0' + ms/100)
	b[n+date+2] = byte('0' + ms/10%10)
	b[n+date+3] = byte('0' + ms%10)
	return b
}
