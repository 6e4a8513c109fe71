package session

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// goValueCases are sessions holding Go values of other types than the
// ones Decode returns, as a Python expression of what Flask must read.
var goValueCases = []struct {
	name string
	go_  Session
	py   string
}{
	{"[]uuid.UUID", Session{"ids": []uuid.UUID{uuid.MustParse("5f0c3e0a-8a4b-4c1e-9d2f-0123456789ab")}},
		`{"ids": [uuid.UUID("5f0c3e0a-8a4b-4c1e-9d2f-0123456789ab")]}`},
	{"[]Tuple", Session{"t": []Tuple{{1, "a"}}}, `{"t": [(1, "a")]}`},
	{"map[string]time.Time", Session{"seen": map[string]time.Time{"home": time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)}},
		`{"seen": {"home": datetime.datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)}}`},
	{"[2]Markup", Session{"m": [2]Markup{"<b>", "<i>"}}, `{"m": [Markup("<b>"), Markup("<i>")]}`},
	{"[][]byte", Session{"raw": [][]byte{[]byte("\x00a")}}, `{"raw": [b"\x00a"]}`},
	{"map[string]Markup, a tag as its only key", Session{"x": map[string]Markup{" m": "y"}}, `{"x": {" m": Markup("y")}}`},
	{"[]string", Session{"roles": []string{"a", "b"}}, `{"roles": ["a", "b"]}`},
	{"nil []string", Session{"roles": []string(nil)}, `{"roles": None}`},
	{"map[string]int", Session{"cart": map[string]int{"1": 2}}, `{"cart": {"1": 2}}`},
	{"json.RawMessage", Session{"j": json.RawMessage(`[1,{"a":true}]`)}, `{"j": [1, {"a": True}]}`},
	// A float64 holding an integer is a Python int, as encoding/json
	// writes it: numbers that Go decoded with encoding/json as float64
	// keep Python's int. json.Number("2.0") writes a float.
	{"integral float64", Session{"n": 2.0, "f": json.Number("2.0"), "half": 0.5}, `{"n": 2, "f": 2.0, "half": 0.5}`},
	{"years 100 and 9999", Session{"a": time.Date(100, 1, 2, 3, 4, 5, 0, time.UTC), "b": time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)},
		`{"a": datetime.datetime(100, 1, 2, 3, 4, 5, tzinfo=timezone.utc), "b": datetime.datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc)}`},
	{"net.IP (a TextMarshaler)", Session{"ip": net.IPv4(10, 0, 0, 1)}, `{"ip": "10.0.0.1"}`},
}

// TestFlaskGoValues has Flask open sessions that Go encoded from Go
// types of its own: tagged values inside typed slices, arrays and maps
// must reach Python as the same Python types as inside []any.
func TestFlaskGoValues(t *testing.T) {
	var names, exprs []string
	var sessions []Session
	for _, c := range goValueCases {
		names, sessions, exprs = append(names, c.name), append(sessions, c.go_), append(exprs, c.py)
	}
	flaskOpensGo(t, names, sessions, exprs)
}

// nested returns n lists around 1, and its Python expression.
func nested(n int) (any, string) {
	var v any = 1
	for range n {
		v = []any{v}
	}
	return v, strings.Repeat("[", n) + "1" + strings.Repeat("]", n)
}

// TestFlaskEncodeDepth checks that Encode refuses a value that holds
// itself (it recursed until the Go process crashed) and one nested
// deeper than Flask reads (a session Flask's serializer cannot load
// answers 500 on every Python page), and that Flask opens what Encode
// accepts.
func TestFlaskEncodeDepth(t *testing.T) {
	f := &Flask{SecretKey: "k"}
	cyclic := map[string]any{}
	cyclic["self"] = cyclic
	loop := []any{nil}
	loop[0] = loop
	deep, _ := nested(1000)
	for name, s := range map[string]Session{
		"map holding itself":   {"m": cyclic},
		"slice holding itself": {"l": loop},
		"1000 levels":          {"x": deep},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := f.Encode(s); err == nil || !strings.Contains(err.Error(), "nested deeper") {
				t.Errorf("Encode: %v, want an error about nesting", err)
			}
		})
	}
	ok, expr := nested(150)
	v, err := f.Encode(Session{"x": ok})
	if err != nil {
		t.Fatalf("Encode of 150 levels: %v", err)
	}
	if got := openFlask(t, "k", nil, []string{v}, []string{`{"x": ` + expr + `}`})[0]; !got.Equal || got.Error != "" {
		t.Errorf("Flask opened Go's 150 levels as %.100s (error %q)", got.Repr, got.Error)
	}
}

// TestFlaskSaveEmpty checks that saving an empty session deletes the
// cookie with the Set-Cookie header the real Flask sends when a view
// empties the session (session.clear(), logging out), rather than
// setting a signed empty session.
func TestFlaskSaveEmpty(t *testing.T) {
	f := &Flask{SecretKey: "k"}
	cookie, err := f.Encode(Session{"user": "bob"})
	if err != nil {
		t.Fatal(err)
	}
	var out []struct {
		SetCookie []string `json:"set_cookie"`
	}
	runPy(t, "flask_tool.py", "flask", flaskReq{Op: "clear", Key: "k", Cases: []pyCase{{Cookie: cookie}}}, &out)
	if len(out) != 1 || len(out[0].SetCookie) != 1 {
		t.Fatalf("flask_tool.py clear: %+v, want one Set-Cookie", out)
	}
	want, err := http.ParseSetCookie(out[0].SetCookie[0])
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]Session{"empty": {}, "nil": nil} {
		t.Run(name, func(t *testing.T) {
			w := httptest.NewRecorder()
			if err := f.Save(w, s); err != nil {
				t.Fatal(err)
			}
			got, err := http.ParseSetCookie(w.Header().Get("Set-Cookie"))
			if err != nil {
				t.Fatal(err)
			}
			if got.Name != want.Name || got.Value != "" || got.MaxAge != want.MaxAge || !got.Expires.Equal(want.Expires) ||
				got.Path != want.Path || got.HttpOnly != want.HttpOnly {
				t.Errorf("Go's Set-Cookie %q, Flask's %q", w.Header().Get("Set-Cookie"), out[0].SetCookie[0])
			}
		})
	}
}

// TestFlaskEncodeTimeRange checks that Encode refuses times that Flask
// reads back as another time: it reads the years of its HTTP dates below
// 100 as 19xx or 20xx (the zero time.Time came back as 2001-01-01), and
// years past 9999 as None.
func TestFlaskEncodeTimeRange(t *testing.T) {
	f := &Flask{SecretKey: "k"}
	for _, tm := range []time.Time{{}, time.Date(99, 12, 31, 23, 59, 59, 0, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(100, 1, 1, 0, 30, 0, 0, time.FixedZone("east", 3600))} {
		if _, err := f.Encode(Session{"t": []any{tm}}); err == nil || !strings.Contains(err.Error(), "years 100 to 9999") {
			t.Errorf("Encode(%v): %v, want an error about the years Flask reads", tm, err)
		}
	}
}

// TestFlaskSaveVary checks that Save adds Vary: Cookie, as the real
// Flask does when it sets or deletes the session cookie (a shared cache
// must not serve one user's response to another), once.
func TestFlaskSaveVary(t *testing.T) {
	var minted []struct{ Vary string }
	runPy(t, "flask_tool.py", "flask", flaskReq{Op: "mint", Key: "k", Cases: []pyCase{{Expr: `{"a": 1}`}}}, &minted)
	var cleared []struct{ Vary string }
	runPy(t, "flask_tool.py", "flask", flaskReq{Op: "clear", Key: "k", Cases: []pyCase{{Cookie: "x"}}}, &cleared)
	if minted[0].Vary != "Cookie" || cleared[0].Vary != "Cookie" {
		t.Fatalf("Flask's Vary: %q when setting, %q when deleting; the test expects Cookie", minted[0].Vary, cleared[0].Vary)
	}
	f := &Flask{SecretKey: "k"}
	for _, c := range []struct {
		name string
		s    Session
		vary []string
		want []string
	}{
		{"set", Session{"a": 1}, nil, []string{"Cookie"}},
		{"delete", Session{}, nil, []string{"Cookie"}},
		{"already there", Session{"a": 1}, []string{"Accept-Encoding, cookie"}, []string{"Accept-Encoding, cookie"}},
		{"another one", Session{"a": 1}, []string{"Accept-Encoding"}, []string{"Accept-Encoding", "Cookie"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			w.Header()["Vary"] = c.vary
			if err := f.Save(w, c.s); err != nil {
				t.Fatal(err)
			}
			if err := f.Save(w, c.s); err != nil { // twice: still once
				t.Fatal(err)
			}
			if got := w.Header().Values("Vary"); !reflect.DeepEqual(got, c.want) {
				t.Errorf("Vary %q, want %q", got, c.want)
			}
		})
	}
}
