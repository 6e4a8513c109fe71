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
	k := a.Value.Kind()
	if k == slog.KindLogValuer {
		a.Value = a.Value.Resolve()
		k = a.Value.Kind()
	}
	return l.appendResolved(a, k)
}

// appendResolved is appendAttr for a resolved attribute of kind k.
func (l *textLine) appendResolved(a slog.Attr, k slog.Kind) bool {
	switch k {
	case slog.KindString:
		l.appendKey(a.Key)
		l.b = appendTextString(l.b, a.Value.String())
	case slog.KindInt64:
		l.appendKey(a.Key)
		l.b = strconv.AppendInt(l.b, a.Value.Int64(), 10)
	case slog.KindUint64:
		l.appendKey(a.Key)
		l.b = strconv.AppendUint(l.b, a.Value.Uint64(), 10)
	case slog.KindFloat64:
		l.appendKey(a.Key)
		l.b = strconv.AppendFloat(l.b, a.Value.Float64(), 'g', -1, 64)
	case slog.KindBool:
		l.appendKey(a.Key)
		l.b = strconv.AppendBool(l.b, a.Value.Bool())
	case slog.KindDuration:
		l.appendKey(a.Key)
		l.b = append(l.b, a.Value.Duration().String()...)
	case slog.KindTime:
		l.appendKey(a.Key)
		l.b = appendTextTime(l.b, a.Value.Time())
	case slog.KindGroup:
		return l.appendGroup(a.Key, a.Value.Group())
	default:
		x := a.Value.Any()
		if a.Key == "" && x == nil {
			return false
		}
		if src, ok := x.(*slog.Source); ok {
			if src == nil || *src == (slog.Source{}) {
				return false
			}
			l.appendKey(a.Key)
			l.b = appendTextString(l.b, fmt.Sprintf("%s:%d", src.File, src.Line))
			return true
		}
		l.appendKey(a.Key)
		l.b = appendTextAny(l.b, x)
	}
	return true
}

// appendGroup appends a group's attributes, their keys after key and a
// dot (after nothing if key is empty: the group is inlined).
func (l *textLine) appendGroup(key string, attrs []slog.Attr) bool {
	if len(attrs) == 0 {
		return true
	}
	pos := len(l.b)
	if key != "" {
		l.prefix = append(append(l.prefix, key...), '.')
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
	if key != "" {
		l.prefix = l.prefix[:len(l.prefix)-len(key)-1]
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
		l.b = appendQuoted(l.b, string(l.prefix)+key)
	}
	l.b = append(l.b, '=')
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
		return appendQuoted(b, s)
	}
	return append(b, s...)
}

// appendQuoted appends strconv.Quote(s): for ASCII, '"' and '\\'
// escaped, \a \b \f \n \r \t \v, other control characters and DEL as
// \xXX; printable runes beyond ASCII as they are (the "µs" of a
// duration, which took strconv's slower rune-by-rune path: 4.6 times the
// time of an ASCII message); a string with invalid UTF-8 or another rune
// goes to strconv whole.
func appendQuoted(b []byte, s string) []byte {
	mark := len(b)
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 || !strconv.IsPrint(r) {
				return strconv.AppendQuote(b[:mark], s)
			}
			i += n - 1
			continue
		}
		if c >= 0x20 && c < 0x7f && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		start = i + 1
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\a':
			b = append(b, '\\', 'a')
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		case '\v':
			b = append(b, '\\', 'v')
		default:
			b = append(b, '\\', 'x', lowerHex[c>>4], lowerHex[c&0xf])
		}
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

const lowerHex = "0123456789abcdef"

// textSafe[c] is true for the ASCII bytes slog's text handler writes
// without quoting: not a control character, space, '=' or '"'. Bytes
// from 0x80 are false: needsQuoting looks at their rune.
var textSafe = func() (t [256]bool) {
	for c := 0x21; c < utf8.RuneSelf; c++ {
		t[c] = c != '=' && c != '"'
	}
	return t
}()

// needsQuoting reports whether slog's text handler quotes s: when it is
// empty or holds a space, '=', '"', an ASCII control character, invalid
// UTF-8 (or U+FFFD), a Unicode space or a character that is not
// printable. A backslash alone, and DEL, are written as they are.
func needsQuoting(s string) bool {
	if s == "" {
		return true
	}
	for i := 0; i < len(s); i++ {
		if !textSafe[s[i]] {
			if s[i] < utf8.RuneSelf {
				return true
			}
			return runesNeedQuoting(s[i:])
		}
	}
	return false
}

// runesNeedQuoting is needsQuoting from the first non-ASCII byte.
func runesNeedQuoting(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if !textSafe[c] {
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
