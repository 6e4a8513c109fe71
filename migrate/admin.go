package migrate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"reflect"
	"strings"

	"github.com/graft-dev/graft/wsgi"
)

// AdminOptions configure the admin handler.
type AdminOptions struct {
	// Console, if not nil, serves every request the JSON API does not:
	// GET / (the HTML migration console) and its own paths (form posts,
	// assets). It is where the console plugs in; nil means a 404 with
	// the API's JSON error.
	Console http.Handler
	// User names who makes a change, for the log; nil means the
	// REMOTE_USER set by Go middleware (middleware.WithRemoteUser) in
	// the request context, else "admin".
	User func(*http.Request) string
	// PythonRoutes, if not nil, gives the Python app's route map for
	// GET /inventory, the migration inventory ([Inventory]) as JSON;
	// typically the [wsgi.Container]'s AppRoutes. nil: no /inventory.
	// The console (o.Console, when made by [Migrator.Console]) shows the
	// same inventory as a page and links it, unless its own
	// [ConsoleOptions].PythonRoutes is set.
	PythonRoutes func(context.Context) (*wsgi.AppRouteMap, error)
	// Hosts are the host names, besides IP addresses and localhost, under
	// which the handler (the console included) answers: the names that
	// browsers and scripts use to reach it ("admin.example.com", without
	// a scheme or a port, any case). A request whose Host header names
	// anything else gets a 421 Misdirected Request. This stops DNS
	// rebinding: a web page that the operator opens can point its own
	// name at the admin listener's address, and the browser then sends
	// it requests, and reads the answers, as the page's own. Empty means
	// IP addresses and localhost only, with any port. Handler panics on
	// an entry that is not a host name.
	Hosts []string
}

// maxAdminBody caps the JSON bodies of the admin API.
const maxAdminBody = 64 << 10

// Handler returns the admin API, a handler to serve on its own listener
// (or under http.StripPrefix) behind the application's authentication:
//
//	GET  /routes        JSON array of [RouteStatus], one per staged route
//	                    (?route=GET+/x: that route only)
//	POST /routes        {"route": "GET /x", "stage": "canary", "percent": 5, ...}:
//	                    changes the fields given (see [RouteConfig]) and
//	                    answers the route's new RouteStatus
//	GET  /force-python  {"force_python": bool}: the global kill switch
//	POST /force-python  {"route": "GET /x", "on": true} or {"all": true, "on": true}:
//	                    flips a kill switch and answers the new state
//	GET  /stages-file   {"path": "stages.json", "applied": false, "error": "..."}:
//	                    whether the stages file on disk applies, and why not
//	                    ([Migrator.FileError]); path "" without one
//	GET  /inventory     the migration [Inventory] (with o.PythonRoutes only)
//
// POST bodies must be JSON with Content-Type application/json (which a
// cross-site form cannot send), and are read as strictly as the stages
// file: one object, whose keys are the documented ones, each at most once
// (case counts), with nothing after it, and a "stage" given must name one
// ("" does not). Bad input gets a 400 with {"error": "..."}; an answer to
// a change that could not be written to the stages file (it is made in
// memory all the same) carries "warning". Another method on these paths
// gets a 405 with an Allow header and {"error": "..."}. Anything else goes
// to o.Console; without one, it gets a 404 with {"error": "..."}.
//
// Against DNS rebinding, the handler answers only requests whose Host is
// an IP address, localhost or one of o.Hosts (see [AdminOptions].Hosts),
// and any other with a 421 Misdirected Request, with {"error": "..."}
// (plain text on o.Console's paths).
func (m *Migrator) Handler(o AdminOptions) http.Handler {
	hosts := newHostRule("the admin API and the console answer", "AdminOptions.Hosts", o.Hosts)
	user := o.User
	if user == nil {
		user = defaultUser
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /routes", func(w http.ResponseWriter, r *http.Request) {
		if route := r.URL.Query().Get("route"); route != "" {
			st, ok := m.Route(route)
			if !ok {
				badRequest(w, m.unknownRoute(route))
				return
			}
			writeJSON(w, http.StatusOK, []RouteStatus{st})
			return
		}
		writeJSON(w, http.StatusOK, m.Routes())
	})
	mux.HandleFunc("POST /routes", func(w http.ResponseWriter, r *http.Request) {
		body, ok := readJSONBody(w, r)
		if !ok {
			return
		}
		var given RouteConfig
		keys, err := decodeBody(body, &given)
		if err != nil {
			badRequest(w, err)
			return
		}
		if given.Route == "" {
			badRequest(w, errors.New("migrate: missing \"route\" (\"METHOD /pattern\")"))
			return
		}
		// A stage given must name one, as in the stages file: "" (or
		// null) is no stage, not go.
		if keys["stage"] {
			if _, err := ParseStage(string(given.Stage)); err != nil {
				badRequest(w, err)
				return
			}
		}
		// The fields given replace the route's in effect, read and
		// changed in one step; decodeBody checked them.
		st, err := m.updateRoute(user(r), given.Route, func(c *RouteConfig) error {
			if err := json.Unmarshal(body, c); err != nil {
				return fmt.Errorf("migrate: invalid JSON body: %v", strings.TrimPrefix(err.Error(), "json: "))
			}
			return nil
		})
		if err != nil && st.Route == "" {
			badRequest(w, err)
			return
		}
		writeJSON(w, http.StatusOK, withWarning{st, errString(err)})
	})
	mux.HandleFunc("GET /force-python", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]bool{"force_python": m.ForcePython()})
	})
	mux.HandleFunc("POST /force-python", func(w http.ResponseWriter, r *http.Request) {
		body, ok := readJSONBody(w, r)
		if !ok {
			return
		}
		var req struct {
			Route string `json:"route"`
			All   bool   `json:"all"`
			On    *bool  `json:"on"`
		}
		if _, err := decodeBody(body, &req); err != nil {
			badRequest(w, err)
			return
		}
		switch {
		case req.On == nil:
			badRequest(w, errors.New("migrate: missing \"on\": true or false"))
			return
		case req.All == (req.Route != ""):
			badRequest(w, errors.New("migrate: give either \"route\" or \"all\": true"))
			return
		}
		err := m.SetForcePython(user(r), req.Route, *req.On)
		if req.All {
			writeJSON(w, http.StatusOK, globalSwitch{All: true, ForcePython: m.ForcePython(), Warning: errString(err)})
			return
		}
		st, ok := m.Route(req.Route)
		if !ok || err != nil && !strings.Contains(err.Error(), "not saved") {
			badRequest(w, err)
			return
		}
		writeJSON(w, http.StatusOK, withWarning{st, errString(err)})
	})
	mux.HandleFunc("GET /stages-file", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, m.stagesFileStatus())
	})
	// The API's paths answer other methods themselves, with 405 and the
	// API's JSON error, before the console's catch-all could take them.
	mux.HandleFunc("/routes", methodNotAllowed("GET, HEAD, POST"))
	mux.HandleFunc("/force-python", methodNotAllowed("GET, HEAD, POST"))
	mux.HandleFunc("/stages-file", methodNotAllowed("GET, HEAD"))
	if o.PythonRoutes != nil {
		mux.HandleFunc("GET /inventory", m.inventoryHandler(o.PythonRoutes))
		mux.HandleFunc("/inventory", methodNotAllowed("GET, HEAD"))
	} else {
		// The API's path, with or without a console: its JSON error says
		// what /inventory needs.
		mux.HandleFunc("/inventory", notFound(false))
	}
	if o.Console != nil {
		mux.Handle("/", o.Console)
	} else {
		mux.HandleFunc("/", notFound(o.PythonRoutes != nil))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := hosts.check(r.Host); err != nil {
			_, pattern := mux.Handler(r)
			m.refuseHost(w, r, err, o.Console != nil && pattern == "/")
			return
		}
		r, done := atMountRoot(w, r)
		if done {
			return
		}
		ctx := context.WithValue(r.Context(), hostCheckedCtxKey, true)
		if o.PythonRoutes != nil {
			ctx = context.WithValue(ctx, pythonRoutesCtxKey, o.PythonRoutes)
		}
		mux.ServeHTTP(w, r.WithContext(ctx))
	})
}

// stagesFileStatus is the answer of GET /stages-file.
type stagesFileStatus struct {
	Path    string  `json:"path"`    // Options.StagesFile; "" without one
	Applied bool    `json:"applied"` // the file on disk is the stages in effect
	Error   *string `json:"error"`   // why it is not applied; null when it is
}

func (m *Migrator) stagesFileStatus() stagesFileStatus {
	st := stagesFileStatus{Path: m.o.StagesFile, Applied: true}
	if err := m.FileError(); err != nil {
		msg := err.Error()
		st.Applied, st.Error = false, &msg
	}
	return st
}

// hostRule is the check of a request's Host header, against DNS
// rebinding, that the admin handler and the console share: an IP
// address, localhost, or a name listed in the option (AdminOptions.Hosts,
// or ConsoleOptions.Hosts for a console served alone), with any port.
type hostRule struct {
	names  map[string]bool // in lower case
	who    string          // what answers, with its verb, for the error
	option string          // where the names come from, for the error
}

// newHostRule returns the rule of option (such as "AdminOptions.Hosts"),
// which allows names besides IP addresses and localhost; who says what
// answers under the rule ("the console answers"). It panics on an entry
// that is not a host name.
func newHostRule(who, option string, names []string) hostRule {
	rule := hostRule{names: map[string]bool{}, who: who, option: option}
	for _, n := range names {
		if !validHostName(n) {
			panic(fmt.Sprintf("migrate: %s: %q is not a host name (want a name such as \"admin.example.com\", without a scheme or a port)", option, n))
		}
		rule.names[strings.ToLower(n)] = true
	}
	return rule
}

// check returns an error when the rule refuses host, a Host header.
func (h hostRule) check(host string) error {
	name, _, err := net.SplitHostPort(host)
	if err != nil { // no port
		name = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	}
	if _, err := netip.ParseAddr(name); err == nil || strings.EqualFold(name, "localhost") || h.names[strings.ToLower(name)] {
		return nil
	}
	return fmt.Errorf("migrate: request for host %q refused: %s only IP addresses, localhost and the names in %s (against DNS rebinding)", host, h.who, h.option)
}

// validHostName reports whether s is a host name (letters, digits, "-",
// "_" and "."), or an IP address.
func validHostName(s string) bool {
	if _, err := netip.ParseAddr(s); err == nil {
		return true
	}
	if s == "" || strings.Trim(s, ".") == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20 // lower case for letters
		if !('a' <= c && c <= 'z' || '0' <= s[i] && s[i] <= '9' || s[i] == '-' || s[i] == '_' || s[i] == '.') {
			return false
		}
	}
	return true
}

// refuseHost answers a request for a host that the rule refuses: 421,
// with the API's JSON error, or with plain text on the console's paths.
func (m *Migrator) refuseHost(w http.ResponseWriter, r *http.Request, err error, text bool) {
	m.log.Warn("migrate: admin request refused",
		slog.String("graft.reason", err.Error()), slog.String("client.ip", r.RemoteAddr))
	if text {
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, err.Error(), http.StatusMisdirectedRequest)
		return
	}
	writeJSON(w, http.StatusMisdirectedRequest, map[string]string{"error": err.Error()})
}

// notFound answers a path the API does not serve (without a console):
// 404, with the API's JSON error naming the paths it does serve.
func notFound(inventory bool) http.HandlerFunc {
	paths := "/routes, /force-python, /stages-file"
	if inventory {
		paths += ", /inventory"
	}
	return func(w http.ResponseWriter, r *http.Request) {
		msg := fmt.Sprintf("migrate: no %s in the admin API (its paths: %s)", r.URL.Path, paths)
		if r.URL.Path == "/inventory" {
			msg += "; /inventory needs AdminOptions.PythonRoutes"
		}
		writeJSON(w, http.StatusNotFound, map[string]string{"error": msg})
	}
}

// methodNotAllowed answers a method an API path does not take: 405, with
// the Allow header and a JSON error.
func methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{
			"error": fmt.Sprintf("migrate: method %s not allowed on %s (allowed: %s)", r.Method, r.URL.Path, allow),
		})
	}
}

// withWarning is a RouteStatus answered by the admin API.
type withWarning struct {
	RouteStatus
	Warning string `json:"warning,omitempty"`
}

// globalSwitch is the admin API's answer to a change of the global kill
// switch.
type globalSwitch struct {
	All         bool   `json:"all"`
	ForcePython bool   `json:"force_python"`
	Warning     string `json:"warning,omitempty"`
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func defaultUser(r *http.Request) string {
	if u := wsgi.ExtraEnviron(r.Context())["REMOTE_USER"]; u != "" {
		return u
	}
	return "admin"
}

// readJSONBody reads a small JSON request body, or answers 400.
func readJSONBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		badRequest(w, errors.New("migrate: the body must be JSON, with Content-Type: application/json"))
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAdminBody))
	if err != nil {
		badRequest(w, fmt.Errorf("migrate: reading the body: %v", err))
		return nil, false
	}
	return body, true
}

// decodeBody decodes body, one JSON object, into v, a pointer to a
// struct, as strictly as the stages file is read: a key that is not one of
// v's JSON names exactly (case counts), a key given twice, anything but
// an object, and anything after it are errors (which answer 400). It
// returns the keys given.
func decodeBody(body []byte, v any) (map[string]bool, error) {
	names := map[string]reflect.Type{}
	t := reflect.TypeOf(v).Elem()
	for i := range t.NumField() {
		if f := t.Field(i); f.IsExported() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" {
				name = f.Name
			}
			names[name] = f.Type
		}
	}
	invalid := func(format string, args ...any) error {
		return fmt.Errorf("migrate: invalid JSON body: "+format, args...)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, invalid("want one JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, invalid("%v", err)
		}
		key, _ := tok.(string) // in an object, a key is a string
		switch {
		case names[key] == nil:
			return nil, invalid("unknown field %q", key)
		case seen[key]:
			return nil, invalid("duplicate key %q", key)
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, invalid("%v", err)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, invalid("%v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, invalid("data after the JSON object")
	}
	if err := json.Unmarshal(body, v); err != nil {
		if te := (*json.UnmarshalTypeError)(nil); errors.As(err, &te) && names[te.Field] != nil {
			return nil, invalid("%s", typeMismatch(te.Field, names[te.Field], te))
		}
		return nil, invalid("%v", strings.TrimPrefix(err.Error(), "json: "))
	}
	return seen, nil
}

func badRequest(w http.ResponseWriter, err error) {
	writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, "migrate: encoding JSON: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
