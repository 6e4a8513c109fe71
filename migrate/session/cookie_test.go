package session

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// headerCase is a raw Cookie header for the Python tools: the lines as
// graft's WSGI container joins them.
type headerCase struct {
	Header string `json:"header"`
	Name   string `json:"name,omitempty"`
	Expr   string `json:"expr,omitempty"`
}

type headerReq struct {
	Op    string       `json:"op"`
	Key   string       `json:"key"`
	Cases []headerCase `json:"cases"`
}

type pickedCookie struct {
	Found bool   `json:"found"`
	Value string `json:"value"`
}

// TestCookiePicks asks Django (request.COOKIES) and Flask
// (request.cookies.get) which value they read for a cookie in raw Cookie
// headers, duplicates and quoting included, and checks that Go reads the
// same: the last of duplicates for Django, the first for Flask.
func TestCookiePicks(t *testing.T) {
	const none = "\x00" // not found
	cases := []struct {
		name          string
		lines         []string
		django, flask string
	}{
		{"one", []string{"sid=a"}, "a", "a"},
		{"duplicates", []string{"sid=a; sid=b"}, "b", "a"},
		{"duplicates among others", []string{"x=1; sid=a; y=2; sid=b; z=3"}, "b", "a"},
		{"two header lines", []string{"sid=a; x=1", "sid=b"}, "b", "a"},
		{"empty last", []string{"sid=a; sid="}, "", "a"},
		{"empty first", []string{"sid=; sid=b"}, "b", ""},
		{"no equals sign", []string{"sid; sid=b"}, "b", ""},
		{"white space around =", []string{"sid = a ; x=1"}, "a", "a"},
		{"tabs", []string{"sid=\ta\t; x=1"}, "a", "a"},
		{"quoted with escapes", []string{`sid="a\"b\101\\"`}, `a"bA\`, `a"bA\`},
		{"quoted with a semicolon", []string{`sid="a;b"; sid=c`}, "c", "a;b"},
		{"quoted, then more", []string{`sid="a"b; sid=c`}, "c", `"a"b`},
		{"unclosed quote", []string{`sid="a; sid=c`}, "c", `"a`},
		{"backslash", []string{`sid=a\b; sid=c`}, "c", `a\b`},
		{"double quote inside", []string{`sid=a"b; sid=c`}, "c", `a"b`},
		{"equals sign in the value", []string{"sid=a=b"}, "a=b", "a=b"},
		{"name in another's value", []string{"x=sid=a"}, none, none},
		{"other case", []string{"SID=a"}, none, none},
		{"missing", []string{"x=1"}, none, none},
		{"empty header", []string{""}, none, none},
		{"stray semicolons", []string{";; sid=a ;;"}, "a", "a"},
		{"no-break space", []string{"sid=\u00a0a"}, "a", "\u00a0a"},
	}
	var req headerReq
	for _, c := range cases {
		req.Cases = append(req.Cases, headerCase{Header: strings.Join(c.lines, "; "), Name: "sid"})
	}
	req.Op, req.Key = "cookie", djangoKey
	var dj, fl []pickedCookie
	runPy(t, "django_tool.py", "django", req, &dj)
	req.Key = "k"
	runPy(t, "flask_tool.py", "flask", req, &fl)
	if len(dj) != len(cases) || len(fl) != len(cases) {
		t.Fatalf("%d Django and %d Flask answers for %d cases", len(dj), len(fl), len(cases))
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header["Cookie"] = c.lines
			for _, side := range []struct {
				framework string
				want      string
				python    pickedCookie
				pick      func() (string, bool)
			}{
				{"Django", c.django, dj[i], func() (string, bool) { return djangoCookie(r, "sid") }},
				{"Flask", c.flask, fl[i], func() (string, bool) { return flaskCookie(r, "sid") }},
			} {
				want := pickedCookie{Found: side.want != none}
				if want.Found {
					want.Value = side.want
				}
				if side.python != want {
					t.Errorf("%s reads %+v, the test expects %+v", side.framework, side.python, want)
				}
				v, ok := side.pick()
				if got := (pickedCookie{ok, v}); got != side.python {
					t.Errorf("Go reads %+v where %s reads %+v", got, side.framework, side.python)
				}
			}
		})
	}
}

// TestLoadDuplicateCookies has Django's SessionMiddleware and Flask's
// session interface open the session of Cookie headers with several
// session cookies, and checks that Load finds the same one (or, where the
// framework starts an empty session, an empty session or an error).
func TestLoadDuplicateCookies(t *testing.T) {
	sessions := func(encode func(Session) (string, error)) (s1, s2 string) {
		var err1, err2 error
		s1, err1 = encode(Session{"n": 1})
		s2, err2 = encode(Session{"n": 2})
		if err := errors.Join(err1, err2); err != nil {
			t.Fatal(err)
		}
		return s1, s2
	}

	t.Run("Django", func(t *testing.T) {
		d := &Django{SecretKey: djangoKey}
		s1, s2 := sessions(d.Encode)
		cases := []loadCase{
			{"one", []string{"sessionid=" + s1}, 1},
			{"duplicates: the last", []string{"sessionid=" + s1 + "; sessionid=" + s2}, 2},
			{"two header lines", []string{"sessionid=" + s2, "sessionid=" + s1}, 1},
			{"an empty last", []string{"sessionid=" + s1 + "; sessionid="}, 0},
			{"a malformed last", []string{"sessionid=" + s2 + "; sessionid=junk"}, 0},
		}
		checkLoads(t, "django_tool.py", headerReq{Op: "session_header", Key: djangoKey}, cases, d.Load)
	})
	t.Run("Flask", func(t *testing.T) {
		const key = "flask-test-key"
		f := &Flask{SecretKey: key}
		s1, s2 := sessions(f.Encode)
		cases := []loadCase{
			{"one", []string{"session=" + s1}, 1},
			{"duplicates: the first", []string{"session=" + s1 + "; session=" + s2}, 1},
			{"two header lines", []string{"session=" + s2, "session=" + s1}, 2},
			{"an empty first", []string{"session=; session=" + s2}, 0},
			{"a first without a value", []string{"session; session=" + s2}, 0},
			{"a malformed first that Go's parser skips", []string{`session=a\b; session=` + s2}, 0},
			{"white space around the value", []string{"session = " + s2 + " ; x=1"}, 2},
		}
		checkLoads(t, "flask_tool.py", headerReq{Op: "open", Key: key}, cases, f.Load)
	})
}

// loadCase is a request's Cookie header lines and the session expected
// from them.
type loadCase struct {
	name  string
	lines []string
	want  int // 0: an empty session (no cookie, or a rejected one); n: {"n": n}
}

// sessionExpr is the Python session of a loadCase's want.
func sessionExpr(n int) string {
	if n == 0 {
		return "{}"
	}
	return fmt.Sprintf(`{"n": %d}`, n)
}

// checkLoads has the Python tool open the session of each case's header
// (joined as graft's WSGI container joins the lines) with req, and checks
// the framework's session and Load's against the case's want.
func checkLoads(t *testing.T, tool string, req headerReq, cases []loadCase, load func(*http.Request) (Session, error)) {
	t.Helper()
	for _, c := range cases {
		req.Cases = append(req.Cases, headerCase{Header: strings.Join(c.lines, "; "), Expr: sessionExpr(c.want)})
	}
	var python []pyOpened
	runPy(t, tool, strings.TrimSuffix(tool, "_tool.py"), req, &python)
	if len(python) != len(cases) {
		t.Fatalf("%s: %d answers for %d cases", tool, len(python), len(cases))
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !python[i].Equal {
				t.Errorf("the framework opened %s, the test expects %s", python[i].Repr, sessionExpr(c.want))
			}
			r := httptest.NewRequest("GET", "/", nil)
			r.Header["Cookie"] = c.lines
			got, err := load(r)
			switch {
			case c.want == 0 && (err != nil || len(got) == 0):
			case err != nil:
				t.Errorf("Load: %v, want %s", err, sessionExpr(c.want))
			case !reflect.DeepEqual(got, Session{"n": json.Number(strconv.Itoa(c.want))}):
				t.Errorf("Load = %v, want %s", got, sessionExpr(c.want))
			}
		})
	}
}
