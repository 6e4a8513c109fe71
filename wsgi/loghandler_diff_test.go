package wsgi

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
)

// textPair is the same chain of handlers twice: TextHandler formatting
// its lines itself, and TextHandler handing them to slog.TextHandler
// (the way it worked before, and still does with ReplaceAttr).
type textPair struct {
	own, slog       slog.Handler
	ownOut, slogOut *bytes.Buffer
}

func newTextPair(opts *slog.HandlerOptions) *textPair {
	p := &textPair{ownOut: &bytes.Buffer{}, slogOut: &bytes.Buffer{}}
	p.own = newTextHandler(p.ownOut, opts, false)
	p.slog = newTextHandler(p.slogOut, opts, true)
	if p.own.(*TextHandler).inner != nil || p.slog.(*TextHandler).inner == nil {
		panic("newTextPair: wrong handlers")
	}
	return p
}

func (p *textPair) with(attrs ...slog.Attr) *textPair {
	q := *p
	q.own, q.slog = p.own.WithAttrs(attrs), p.slog.WithAttrs(attrs)
	return &q
}

func (p *textPair) group(name string) *textPair {
	q := *p
	q.own, q.slog = p.own.WithGroup(name), p.slog.WithGroup(name)
	return &q
}

// handle gives r to both (if enabled) and fails t unless they wrote the
// same bytes.
func (p *textPair) handle(t testing.TB, r slog.Record) {
	t.Helper()
	ctx := context.Background()
	p.ownOut.Reset()
	p.slogOut.Reset()
	if a, b := p.own.Enabled(ctx, r.Level), p.slog.Enabled(ctx, r.Level); a != b {
		t.Fatalf("Enabled(%v) = %v, slog's way %v", r.Level, a, b)
	} else if !a {
		return
	}
	errOwn := p.own.Handle(ctx, r.Clone())
	errSlog := p.slog.Handle(ctx, r.Clone())
	if (errOwn == nil) != (errSlog == nil) {
		t.Fatalf("Handle: error %v, slog's way %v", errOwn, errSlog)
	}
	want := p.slogOut.String()
	if got := p.ownOut.String(); got != want {
		t.Fatalf("record %q:\ngot  %q\nwant %q", r.Message, got, want)
	}
	// HandleAttrs writes the same, both ways.
	var attrs []slog.Attr
	r.Attrs(func(a slog.Attr) bool { attrs = append(attrs, a); return true })
	for _, h := range []slog.Handler{p.own, p.slog} {
		p.ownOut.Reset()
		p.slogOut.Reset()
		h.(*TextHandler).HandleAttrs(ctx, r.Time, r.Level, r.Message, attrs)
		if got := p.ownOut.String() + p.slogOut.String(); got != want {
			t.Fatalf("HandleAttrs, record %q (through slog: %v):\ngot  %q\nwant %q", r.Message, h == p.slog, got, want)
		}
	}
}

var (
	diffTime = time.Date(2026, 11, 30, 1, 2, 3, 456789012, time.UTC)
	errMulti = errors.New("first\nsecond")
)

// textMarshaler is an encoding.TextMarshaler whose text (or error) is
// given.
type textMarshaler struct {
	text string
	err  error
}

func (m textMarshaler) MarshalText() ([]byte, error) { return []byte(m.text), m.err }

// panicMarshaler panics in MarshalText (through a nil pointer, or not).
type panicMarshaler struct{ msg string }

func (m *panicMarshaler) MarshalText() ([]byte, error) {
	if m.msg == "" {
		return []byte(m.msg), nil // nil pointer: panics
	}
	panic(m.msg)
}

// anyValuer is a LogValuer returning its value, whatever it is.
type anyValuer struct{ v slog.Value }

func (a anyValuer) LogValue() slog.Value { return a.v }

type namedBytes []byte

type point struct {
	X, Y int
	Name string
}

// quotingCases are strings at the edges of slog's quoting rules.
var quotingCases = []string{
	"", "plain", "with space", "a=b", `q"uote`, `back\slash`, `C:\new`, "tab\there", "nl\nx", "cr\rx",
	"\x00", "\x1b[2J", "del\x7f", "é", "日本語", "nbsp\u00a0x", "zw\u200bx", "ls\u2028x", "ogham\u1680x",
	"\xff", "a\xc3", "\ufffd", "emoji😀", "-", ".", "...", "=", `"`, " lead", "trail ", "ideographic\u3000space",
	"combining e\u0301", "private\ue000use", "unassigned\U000e0080",
	// Quoted with printable runes beyond ASCII (kept as they are), then an
	// escape, or a rune strconv escapes after them.
	"GET / => HTTP 200 (33.4µs)", "é \"q\"\n\ttab", "日本 \x01", "µs \xff", "é \u2028", "é \ufffd x", "\u00a0é",
}

func TestTextHandlerSameAsSlog(t *testing.T) {
	zones := []*time.Location{time.UTC, time.FixedZone("IST", 5*3600+30*60), time.FixedZone("PST", -8*3600),
		time.FixedZone("odd", 3600+30*60+17), time.FixedZone("neg-odd", -(2*3600 + 59))}
	rec := func(msg string, attrs ...slog.Attr) slog.Record {
		r := slog.NewRecord(diffTime, slog.LevelInfo, msg, 0)
		r.AddAttrs(attrs...)
		return r
	}
	allKinds := []slog.Attr{
		slog.String("s", "v"), slog.String("empty", ""), slog.Int("i", -42), slog.Int64("i64", math.MinInt64),
		slog.Uint64("u", math.MaxUint64), slog.Float64("f", 1.5), slog.Float64("big", 1e21), slog.Float64("small", 1e-7),
		slog.Float64("nan", math.NaN()), slog.Float64("inf", math.Inf(-1)), slog.Float64("negzero", math.Copysign(0, -1)),
		slog.Bool("t", true), slog.Bool("f", false), slog.Duration("d0", 0), slog.Duration("d", 1500*time.Millisecond),
		slog.Duration("dneg", -3*time.Microsecond), slog.Time("tm", diffTime.In(zones[1])), slog.Time("tzero", time.Time{}),
		slog.Any("nil", nil), slog.Any("err", errors.New("boom")), slog.Any("errmulti", errMulti),
		slog.Any("bytes", []byte("x y")), slog.Any("nbytes", namedBytes("ab")), slog.Any("nobytes", []byte(nil)),
		slog.Any("addr", netip.MustParseAddr("::1")), slog.Any("tmtext", textMarshaler{text: "a b"}),
		slog.Any("tmerr", textMarshaler{err: errors.New("no text")}), slog.Any("tmnil", (*panicMarshaler)(nil)),
		slog.Any("tmpanic", &panicMarshaler{msg: "oops"}), slog.Any("struct", point{1, 2, "p q"}),
		slog.Any("ptr", &point{3, 4, ""}), slog.Any("map", map[string]int{"a": 1}), slog.Any("slice", []int{1, 2}),
		slog.Any("src", &slog.Source{File: "a b.go", Line: 3}), slog.Any("srcempty", &slog.Source{}),
		slog.Any("srcnil", (*slog.Source)(nil)), slog.Any("level", slog.LevelWarn), slog.Any("int", 7),
		slog.Any("dur", time.Second), slog.Any("valuer", anyValuer{slog.StringValue("resolved")}),
		slog.Any("valuer-group", anyValuer{slog.GroupValue(slog.Int("a", 1), slog.String("b", "x y"))}),
		slog.Any("valuer-valuer", anyValuer{slog.AnyValue(anyValuer{slog.IntValue(2)})}),
		slog.Any("valuer-empty-group", anyValuer{slog.GroupValue()}),
	}
	groups := []slog.Attr{
		slog.Group("g", slog.Int("a", 1), slog.Group("h", slog.String("b", "x y"), slog.String("", "k"))),
		slog.Group("", slog.Int("inlined", 1), slog.String("two", "2")),
		slog.Group("empty"), slog.Group("only-empty", slog.Attr{}), slog.Int("after-leak", 1),
		slog.Group("g2", slog.Group("h2", slog.Attr{}), slog.Int("leaked", 2)), slog.Int("after", 3),
		slog.Group("g 3", slog.Int("a", 1)), slog.Group("g4", slog.Int("a b", 1), slog.Int("", 2)),
		slog.Group("g5", slog.String("multi", "a\nb")), slog.Group("g=6", slog.Group("", slog.Int("x", 1))),
		slog.Group("g7", slog.Any("v", anyValuer{slog.GroupValue()})), slog.Int("after7", 7),
		slog.Group("g8", slog.Any("", anyValuer{slog.AnyValue(nil)})), slog.Int("after8", 8),
		{Key: "", Value: slog.IntValue(1)}, {},
	}
	// A step is Logger.With(with...) if group is "", else
	// Logger.WithGroup(group); with nil and group "" it is both, empty.
	type step struct {
		with  []slog.Attr
		group string
	}
	for _, tc := range []struct {
		name   string
		opts   *slog.HandlerOptions
		chain  []step // applied to both handlers before the records
		record []slog.Record
	}{
		{name: "kinds", record: []slog.Record{rec("m", allKinds...)}},
		{name: "kinds one by one", record: func() []slog.Record {
			var rs []slog.Record
			for _, a := range allKinds {
				rs = append(rs, rec("m", a))
			}
			return rs
		}()},
		{name: "groups", record: []slog.Record{rec("m", groups...)}},
		{name: "quoting", record: func() []slog.Record {
			var rs []slog.Record
			for _, s := range quotingCases {
				rs = append(rs, rec(s, slog.String(s, s), slog.Group(s, slog.String(s, s), slog.Int("k", 1))),
					rec("g", slog.Group("g", slog.String(s, "v"))), rec("e", slog.Any(s, errors.New(s))),
					rec("b", slog.Any("b", []byte(s))), rec("t", slog.Any("t", textMarshaler{text: s})))
			}
			return rs
		}()},
		{name: "times", record: func() []slog.Record {
			var rs []slog.Record
			for _, z := range zones {
				for _, tm := range []time.Time{diffTime, time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(0, 12, 31, 23, 59, 59, 999999999, time.UTC),
					time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 1e6, time.UTC),
					time.Date(-5, 3, 1, 0, 0, 0, 5e8, time.UTC), time.Date(2026, 1, 2, 3, 4, 5, 999999, time.UTC),
					time.Date(2026, 1, 2, 3, 4, 5, 1000000, time.UTC), time.Unix(0, 0), time.Now()} {
					r := slog.NewRecord(tm.In(z), slog.LevelInfo, "t", 0)
					r.AddAttrs(slog.Time("at", tm.In(z)))
					rs = append(rs, r)
				}
			}
			return append(rs, slog.NewRecord(time.Time{}, slog.LevelInfo, "no time", 0))
		}()},
		{name: "levels", opts: &slog.HandlerOptions{Level: slog.LevelDebug - 2}, record: func() []slog.Record {
			var rs []slog.Record
			for _, l := range []slog.Level{slog.LevelDebug - 3, slog.LevelDebug - 2, slog.LevelDebug, slog.LevelInfo,
				slog.LevelInfo + 2, slog.LevelWarn, slog.LevelError, slog.LevelError + 8} {
				rs = append(rs, slog.NewRecord(diffTime, l, "lvl", 0))
			}
			return rs
		}()},
		{name: "level var", opts: &slog.HandlerOptions{Level: func() *slog.LevelVar { v := new(slog.LevelVar); v.Set(slog.LevelWarn); return v }()},
			record: []slog.Record{slog.NewRecord(diffTime, slog.LevelInfo, "no", 0), slog.NewRecord(diffTime, slog.LevelWarn, "yes", 0)}},
		{name: "multi-line", record: []slog.Record{
			rec("first\nsecond", slog.Int("k", 1)), rec("\n"), rec("a\n"), rec("m", slog.String("tb", "Traceback:\n  File \"x.py\"\nE: boom\n")),
			rec("m", slog.String("ctl", "a\x1b[2Jb\r\ntime=x level=ERROR\tok\xff"), slog.String("after", "x")),
			rec("m", slog.Any("v", anyValuer{slog.StringValue("a\nb")})), rec("m", slog.Any("e", errMulti)),
			rec("m", slog.String("a\nkey", "x\ny"), slog.String("", "\n")), rec("m", slog.String(`p`, `C:\new`), slog.String("q", "a b\\n")),
		}},
		{name: "With", chain: []step{{with: []slog.Attr{slog.String("a", "1"), slog.String("s", "x\ny"), slog.Group("g", slog.Int("b", 2))}}},
			record: []slog.Record{rec("m", slog.Int("b", 2)), rec("m"), rec("m\nn", slog.String("t", "u\nv"))}},
		{name: "With twice", chain: []step{{with: []slog.Attr{slog.Int("a", 1)}}, {with: []slog.Attr{slog.String("s", "x y"), slog.String("m", "a\nb")}}},
			record: []slog.Record{rec("m", slog.Int("b", 2)), rec("m")}},
		{name: "With kinds", chain: []step{{with: allKinds}, {with: groups}}, record: []slog.Record{rec("m", slog.Int("b", 2)), rec("m")}},
		{name: "With empty", chain: []step{{with: nil}, {with: []slog.Attr{{}}}, {with: []slog.Attr{slog.Group("e")}}},
			record: []slog.Record{rec("m", slog.Int("b", 2))}},
		{name: "With leaking prefix", chain: []step{{with: []slog.Attr{slog.Group("g", slog.Attr{}), slog.Int("a", 1)}}},
			record: []slog.Record{rec("m", slog.Int("b", 2))}},
		{name: "WithGroup", chain: []step{{group: "g"}},
			record: []slog.Record{rec("m", slog.Int("a", 1), slog.String("s", "x\ny")), rec("m"), rec("m\nn", slog.Int("a", 1))}},
		{name: "WithGroup empty name", chain: []step{{group: ""}}, record: []slog.Record{rec("m", slog.String("s", "x\ny"))}},
		{name: "WithGroup With", chain: []step{{with: []slog.Attr{slog.Int("top", 1), slog.String("tb", "a\nb")}}, {group: "g"},
			{with: []slog.Attr{slog.Int("a", 1), slog.String("s", "x\ny")}}, {group: "h i"}, {with: []slog.Attr{slog.Group("k", slog.Int("z", 0))}}},
			record: []slog.Record{rec("m", slog.Int("b", 2)), rec("m"), rec("m", groups...)}},
		{name: "WithGroup With nothing", chain: []step{{group: "g"}, {with: []slog.Attr{{}}}, {group: "h"}},
			record: []slog.Record{rec("m", slog.Int("b", 2)), rec("m", slog.Attr{})}},
		{name: "WithGroup unquoted parts", chain: []step{{group: "g"}, {with: []slog.Attr{slog.String("", "e")}}},
			record: []slog.Record{rec("m", slog.String("", "x"), slog.String("a b", "y"))}},
		{name: "many attrs", record: func() []slog.Record {
			r := rec("GET /api/health => HTTP 200 (1.2ms)")
			for i := range 40 {
				r.AddAttrs(slog.Int(strings.Repeat("k", i%5+1), i))
			}
			return []slog.Record{r}
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newTextPair(tc.opts)
			for _, s := range tc.chain {
				if s.group == "" {
					p = p.with(s.with...)
				}
				if s.group != "" || s.with == nil {
					p = p.group(s.group)
				}
			}
			for _, r := range tc.record {
				p.handle(t, r)
			}
		})
	}
}

// TestTextHandlerOptions: ReplaceAttr and AddSource hand the line to
// slog.TextHandler; the Level option works both ways.
func TestTextHandlerOptions(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    *slog.HandlerOptions
		viaSlog bool
	}{
		{"nil", nil, false},
		{"level", &slog.HandlerOptions{Level: slog.LevelError}, false},
		{"ReplaceAttr", &slog.HandlerOptions{ReplaceAttr: noTime}, true},
		{"AddSource", &slog.HandlerOptions{AddSource: true}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := NewTextHandler(&bytes.Buffer{}, tc.opts)
			if got := h.inner != nil; got != tc.viaSlog {
				t.Errorf("through slog.TextHandler: %v, want %v", got, tc.viaSlog)
			}
		})
	}
}

// FuzzTextHandler formats records of random keys, values, group names
// and messages both ways and wants the same bytes.
func FuzzTextHandler(f *testing.F) {
	for _, s := range quotingCases {
		f.Add(s, s, "g", s, int64(len(s)), float64(len(s))/3, uint8(len(s)))
	}
	f.Add("k", "Traceback:\n  File \"x.py\"\n", "", "first\nsecond", int64(-1), 1e21, uint8(255))
	f.Add("", "", "", "", int64(0), math.Inf(1), uint8(0))
	f.Fuzz(func(t *testing.T, key, value, group, msg string, n int64, x float64, shape uint8) {
		if got, want := string(appendQuoted(nil, value)), strconv.Quote(value); got != want {
			t.Fatalf("appendQuoted(%q) = %s, want %s", value, got, want)
		}
		p := newTextPair(&slog.HandlerOptions{Level: slog.LevelDebug})
		attrs := []slog.Attr{
			slog.String(key, value), slog.Int64(key, n), slog.Float64(value, x), slog.Any(key, errors.New(value)),
			slog.Group(group, slog.String(key, value), slog.Group(key), slog.Group(value, slog.Attr{})),
			slog.Any(value, []byte(key)), slog.Time(key, time.Unix(n, n).In(time.FixedZone("z", int(n%86400)))),
			slog.Any(key, textMarshaler{text: value}), slog.Duration(value, time.Duration(n)),
		}
		if shape&1 != 0 {
			p = p.with(attrs[:int(shape>>4)%len(attrs)]...)
		}
		if shape&2 != 0 {
			p = p.group(group)
		}
		if shape&4 != 0 {
			p = p.with(slog.String(value, key))
		}
		if shape&8 != 0 {
			p = p.group(key)
		}
		r := slog.NewRecord(time.Unix(0, n).In(time.FixedZone("z", int(n%50000))), slog.Level(n%16-8), msg, 0)
		r.AddAttrs(attrs...)
		p.handle(t, r)
	})
}
