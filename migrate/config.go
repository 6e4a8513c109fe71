package migrate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/textproto"
	"reflect"
	"strings"
	"time"
)

// RouteConfig is the configuration of one Go route, as written in the
// stages file and taken by [Migrator.SetRoute]. Its zero value (with
// Route set) is the default: stage go, no sampling.
type RouteConfig struct {
	// Route is "METHOD /pattern" with the route's full chi pattern
	// ("GET /api/users/{id}").
	Route string `json:"route"`
	// Stage is the route's stage; "" means go.
	Stage Stage `json:"stage,omitempty"`
	// Percent is the share of requests Go serves in the canary stage,
	// 0 to 100 in steps of 0.01. It is kept, but unused, in other stages.
	Percent float64 `json:"percent,omitempty"`
	// Sticky names what keeps a user on one side in the canary stage:
	// "cookie:NAME", "header:NAME", "remote_user" (REMOTE_USER set by Go
	// middleware), "identity" ([Options].Identity, else REMOTE_USER) or
	// "addr" (the client address). "" means "addr". Requests without the
	// key fall back to the address.
	Sticky string `json:"sticky,omitempty"`
	// ShadowSample is the share (0 to 1) of requests compared: in the
	// shadow stage, of the Python-served requests (0 means 1: all); in the
	// canary and go stages, of the Go-served requests, compared against
	// Python (reverse shadow; 0 means none).
	ShadowSample float64 `json:"shadow_sample,omitempty"`
	// NoiseSample is the share (0 to 1) of comparisons with unexplained
	// differences for which Python is called a second time to learn noise;
	// 0 means [Options].NoiseSample. Only GET, HEAD and OPTIONS requests
	// learn noise.
	NoiseSample float64 `json:"noise_sample,omitempty"`
	// Ignore lists what is never counted as a mismatch: JSON pointers
	// ("/generated_at", which also covers everything under it; "*" for
	// every element of an array learned as unordered, "/items/*/seen_at",
	// which also leaves it out of how the elements are paired), header
	// names ("ETag"), and "Vary: Name" ("Vary: Accept-Language"), one
	// field name left out of Vary on both sides, the others of Vary
	// still compared.
	Ignore []string `json:"ignore,omitempty"`
	// Headers lists the response headers compared; empty means
	// [Options].CompareHeaders.
	Headers []string `json:"headers,omitempty"`
	// ShadowUnsafe lets requests with methods other than GET, HEAD and
	// OPTIONS be shadowed. Only set it when the candidate has no side
	// effects in shadow runs (see [IsShadow]). Such requests never learn
	// noise: Python runs each of them once. In the canary and go stages,
	// reverse shadow runs Python on a copy of each compared request too:
	// the in-process WSGI app sees environ["graft.shadow"], but a fallback
	// that proxies to another server cannot tell, and runs it for real.
	ShadowUnsafe bool `json:"shadow_unsafe,omitempty"`
	// ForcePython makes Python serve the route whatever its stage (the
	// per-route kill switch). Like the python, shadow and canary stages,
	// it is an error on a route that no fallback covers. [Migrator.SetForcePython] removes a
	// configuration that held nothing else when it turns the switch off.
	ForcePython bool `json:"force_python,omitempty"`

	line int // in the stages file, for errors
}

// File is the content of a stages file:
//
//	{"force_python": false, "routes": [{"route": "GET /api/users/{id}",
//	  "stage": "canary", "percent": 25, "sticky": "cookie:uid",
//	  "shadow_sample": 0.1, "ignore": ["/generated_at"]}]}
type File struct {
	// ForcePython makes Python serve every configured route (one listed
	// in Routes, and a HEAD route that follows its GET route's
	// configuration) that a fallback covers: the global kill switch. It
	// acts on the routes being migrated; a route with no configuration (a
	// Go-only health check, a route migrated long ago) stays in go.
	ForcePython bool `json:"force_python"`
	// Routes configures routes; routes not listed are in stage go.
	Routes []RouteConfig `json:"routes"`
	// Rollbacks are the automatic rollbacks in effect, by route ("GET
	// /x"). The Migrator writes a route's entry when it rolls the route
	// back and removes it when a person re-enables the route, so that a
	// rollback outlasts a restart and reaches every replica reading the
	// file; removing the entry re-enables the route. An entry for a route
	// that is not configured in canary or go is ignored (and dropped at
	// the next write).
	Rollbacks map[string]Rollback `json:"rollbacks,omitempty"`
}

// ParseFile parses a stages file. It checks the syntax, the keys and the
// values of each route (stage, percent, sticky key, samples), and reports
// the line of the first error; whether the routes exist is checked by the
// Migrator that loads the file.
func ParseFile(data []byte) (*File, error) {
	// RFC 8259 lets a parser ignore a byte order mark, which Windows
	// editors (Notepad, PowerShell's Out-File) write: without this, it was
	// "invalid character 'ï' looking for beginning of value".
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("migrate: stages file line 1: the file is empty (a file holding {} configures no route)")
	}
	p := &fileParser{data: data, dec: json.NewDecoder(bytes.NewReader(data))}
	p.dec.UseNumber()
	f, err := p.file()
	if err != nil {
		return nil, err
	}
	return f, nil
}

type fileParser struct {
	data []byte
	dec  *json.Decoder
}

// line returns the line of the byte at off, skipping the whitespace and
// separators that precede a value.
func (p *fileParser) line(off int64) int {
	off = max(0, min(off, int64(len(p.data))))
	for off < int64(len(p.data)) && strings.IndexByte(" \t\r\n,:", p.data[off]) >= 0 {
		off++
	}
	return 1 + bytes.Count(p.data[:off], []byte{'\n'})
}

func (p *fileParser) errorf(off int64, format string, args ...any) error {
	return fmt.Errorf("migrate: stages file line %d: %s", p.line(off), fmt.Sprintf(format, args...))
}

// syntax turns a decoder error into one with a line.
func (p *fileParser) syntax(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return p.errorf(se.Offset-1, "%v", se)
	case errors.As(err, &te):
		return p.errorf(te.Offset, "%v", te)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return p.errorf(int64(len(p.data)), "unexpected end of file")
	}
	return p.errorf(p.dec.InputOffset(), "%v", err)
}

func (p *fileParser) delim(want json.Delim) error {
	off := p.dec.InputOffset()
	t, err := p.dec.Token()
	if err != nil {
		return p.syntax(err)
	}
	if d, ok := t.(json.Delim); !ok || d != want {
		return p.errorf(off, "expected %q, found %v", want, tokenString(t))
	}
	return nil
}

func tokenString(t json.Token) string {
	switch v := t.(type) {
	case json.Delim:
		return fmt.Sprintf("%q", string(v))
	case string:
		return fmt.Sprintf("string %q", v)
	case nil:
		return "null"
	}
	return fmt.Sprintf("%v", t)
}

// object reads the keys of an object and calls fn for each, with the
// offset of the key; fn must consume the value.
func (p *fileParser) object(fn func(key string, off int64) error) error {
	if err := p.delim('{'); err != nil {
		return err
	}
	seen := map[string]bool{}
	for p.dec.More() {
		off := p.dec.InputOffset()
		t, err := p.dec.Token()
		if err != nil {
			return p.syntax(err)
		}
		key, _ := t.(string)
		if seen[key] {
			return p.errorf(off, "duplicate key %q", key)
		}
		seen[key] = true
		if err := fn(key, off); err != nil {
			return err
		}
	}
	return p.delim('}')
}

// value decodes the value of key into v, a pointer.
// A type error is reported at the value's line (the decoder's offset
// in it counts from the value, not from the file).
func (p *fileParser) value(key string, v any) error {
	off := p.dec.InputOffset()
	if err := p.dec.Decode(v); err != nil {
		if te := (*json.UnmarshalTypeError)(nil); errors.As(err, &te) {
			return p.errorf(off, "%s", typeMismatch(key, reflect.TypeOf(v).Elem(), te))
		}
		return p.syntax(err)
	}
	return nil
}

func (p *fileParser) file() (*File, error) {
	f := &File{Routes: []RouteConfig{}}
	routes := map[string]int{}
	err := p.object(func(key string, off int64) error {
		switch key {
		case "force_python":
			return p.value(key, &f.ForcePython)
		case "routes":
			if err := p.delim('['); err != nil {
				return err
			}
			for p.dec.More() {
				rc, err := p.route()
				if err != nil {
					return err
				}
				if first, dup := routes[rc.Route]; dup {
					return fmt.Errorf("migrate: stages file line %d: route %q already configured on line %d", rc.line, rc.Route, first)
				}
				routes[rc.Route] = rc.line
				f.Routes = append(f.Routes, rc)
			}
			return p.delim(']')
		case "rollbacks":
			return p.rollbacks(f)
		}
		return p.errorf(off, "unknown key %q (want force_python, routes or rollbacks)", key)
	})
	if err != nil {
		return nil, err
	}
	if _, err := p.dec.Token(); err != io.EOF {
		return nil, p.errorf(p.dec.InputOffset(), "data after the top-level object")
	}
	return f, nil
}

// rollbacks reads the "rollbacks" object: route -> {"reason", "at"}.
func (p *fileParser) rollbacks(f *File) error {
	f.Rollbacks = map[string]Rollback{}
	return p.object(func(key string, off int64) error {
		route, err := normalizeRoute(key)
		if err != nil {
			return p.errorf(off, "rollbacks: %v", strings.TrimPrefix(err.Error(), "migrate: "))
		}
		if _, dup := f.Rollbacks[route]; dup {
			return p.errorf(off, "rollbacks: route %q listed twice", route)
		}
		var rb Rollback
		err = p.object(func(key string, off int64) error {
			switch key {
			case "reason":
				return p.value(key, &rb.Reason)
			case "at":
				var at string
				if err := p.value(key, &at); err != nil {
					return err
				}
				t, err := time.Parse(time.RFC3339Nano, at)
				if err != nil {
					return p.errorf(off, "rollbacks: %q: \"at\" is not an RFC 3339 time: %q", route, at)
				}
				rb.At = t
				return nil
			}
			return p.errorf(off, "rollbacks: unknown key %q (want reason or at)", key)
		})
		if err != nil {
			return err
		}
		f.Rollbacks[route] = rb
		return nil
	})
}

func (p *fileParser) route() (RouteConfig, error) {
	start := p.dec.InputOffset()
	rc := RouteConfig{line: p.line(start)}
	err := p.object(func(key string, off int64) error {
		var err error
		switch key {
		case "route":
			err = p.value(key, &rc.Route)
		case "stage":
			var s string
			if err = p.value(key, &s); err == nil {
				if rc.Stage, err = ParseStage(s); err != nil {
					return p.errorf(off, "unknown stage %q (want python, shadow, canary or go)", s)
				}
			}
		case "percent":
			err = p.value(key, &rc.Percent)
		case "sticky":
			err = p.value(key, &rc.Sticky)
		case "shadow_sample":
			err = p.value(key, &rc.ShadowSample)
		case "noise_sample":
			err = p.value(key, &rc.NoiseSample)
		case "ignore":
			err = p.value(key, &rc.Ignore)
		case "headers":
			err = p.value(key, &rc.Headers)
		case "shadow_unsafe":
			err = p.value(key, &rc.ShadowUnsafe)
		case "force_python":
			err = p.value(key, &rc.ForcePython)
		default:
			return p.errorf(off, "unknown key %q in route", key)
		}
		if err != nil {
			return err
		}
		if verr := rc.checkField(key); verr != nil {
			return p.errorf(off, "%v", strings.TrimPrefix(verr.Error(), "migrate: "))
		}
		return nil
	})
	if err != nil {
		return rc, err
	}
	if rc.Route == "" {
		return rc, fmt.Errorf("migrate: stages file line %d: route without a \"route\" key", rc.line)
	}
	return rc, nil
}

// Check reports the first invalid field of c, with a "migrate: " prefix,
// and normalises c.Route ("get  /x" becomes "GET /x"). It does not check
// whether the route exists.
func (c *RouteConfig) Check() error {
	for _, f := range []string{"route", "stage", "percent", "sticky", "shadow_sample", "noise_sample", "ignore", "headers"} {
		if err := c.checkField(f); err != nil {
			return err
		}
	}
	return nil
}

// checkField validates and normalises one field.
func (c *RouteConfig) checkField(key string) error {
	switch key {
	case "route":
		k, err := normalizeRoute(c.Route)
		if err != nil {
			return err
		}
		c.Route = k
	case "stage":
		if c.Stage == "" {
			return nil
		}
		_, err := ParseStage(string(c.Stage))
		return err
	case "percent":
		if math.IsNaN(c.Percent) || c.Percent < 0 || c.Percent > 100 {
			return fmt.Errorf("migrate: percent %v is not between 0 and 100", c.Percent)
		}
		if bp := math.Round(c.Percent * 100); math.Abs(bp-c.Percent*100) > 1e-6 {
			return fmt.Errorf("migrate: percent %v is not a multiple of 0.01", c.Percent)
		}
	case "sticky":
		if _, err := parseSticky(c.Sticky); err != nil {
			return err
		}
	case "shadow_sample", "noise_sample":
		v := c.ShadowSample
		if key == "noise_sample" {
			v = c.NoiseSample
		}
		if math.IsNaN(v) || v < 0 || v > 1 {
			return fmt.Errorf("migrate: %s %v is not between 0 and 1", key, v)
		}
	case "ignore":
		for _, s := range c.Ignore {
			if s == "" {
				return errors.New("migrate: empty entry in ignore (want a JSON pointer such as \"/generated_at\" or a header name)")
			}
			if _, ok, err := varyEntry(s); ok {
				if err != nil {
					return err
				}
				continue
			}
			if s[0] != '/' && !validHeaderName(s) {
				return fmt.Errorf("migrate: ignore entry %q is neither a JSON pointer (starting with \"/\"), a header name nor \"Vary: Name\"", s)
			}
		}
	case "headers":
		for _, s := range c.Headers {
			if !validHeaderName(s) {
				return fmt.Errorf("migrate: %q in headers is not a header name", s)
			}
		}
	}
	return nil
}

// normalizeRoute checks "METHOD /pattern" and returns it with an
// upper-case method and one space.
func normalizeRoute(s string) (string, error) {
	method, pattern, ok := strings.Cut(strings.TrimSpace(s), " ")
	pattern = strings.TrimSpace(pattern)
	if ok && method != "" && pattern != "" && !strings.HasPrefix(pattern, "/") {
		return "", fmt.Errorf("migrate: route %q is not \"METHOD /pattern\": the pattern begins with \"/\" (the route map's PYTHON ROUTE column writes Django's routes and Pyramid's static views without it): name the Go route, the GO PATTERN column", s)
	}
	if !ok || method == "" || !strings.HasPrefix(pattern, "/") {
		return "", fmt.Errorf("migrate: route %q is not \"METHOD /pattern\"", s)
	}
	if !validHeaderName(method) {
		return "", fmt.Errorf("migrate: route %q has an invalid method", s)
	}
	return strings.ToUpper(method) + " " + pattern, nil
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return true
}

// canonicalHeaders returns the canonical forms of names.
func canonicalHeaders(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = textproto.CanonicalMIMEHeaderKey(n)
	}
	return out
}
