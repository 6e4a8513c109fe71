package migrate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"

	"github.com/graft-dev/graft/wsgi"
)

// AdminOptions configure the admin handler.
type AdminOptions struct {
	// Console, if not nil, serves every request the JSON API does not:
	// GET / (the HTML migration console) and its own paths (form posts,
	// assets). It is where the console plugs in; nil means 404.
	Console http.Handler
	// User names who makes a change, for the log; nil means the
	// REMOTE_USER set by Go middleware (middleware.WithRemoteUser) in
	// the request context, else "admin".
	User func(*http.Request) string
	// PythonRoutes, if not nil, gives the Python app's route map for
	// GET /inventory, the migration inventory ([Inventory]) as JSON;
	// typically the [wsgi.Container]'s AppRoutes. nil: no /inventory.
	PythonRoutes func(context.Context) (*wsgi.AppRouteMap, error)
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
//	GET  /inventory     the migration [Inventory] (with o.PythonRoutes only)
//
// POST bodies must be JSON with Content-Type application/json (which a
// cross-site form cannot send), and are read as strictly as the stages
// file: one object, whose keys are the documented ones, each at most once
// (case counts), with nothing after it. Bad input gets a 400 with
// {"error": "..."}; an answer to a change that could not be written to the
// stages file (it is made in memory all the same) carries "warning".
// Another method on these paths gets a 405 with an Allow header and
// {"error": "..."}. Anything else goes to o.Console.
func (m *Migrator) Handler(o AdminOptions) http.Handler {
	user := o.User
	if user == nil {
		user = defaultUser
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /routes", func(w http.ResponseWriter, r *http.Request) {
		if route := r.URL.Query().Get("route"); route != "" {
			st, ok := m.Route(route)
			if !ok {
				badRequest(w, fmt.Errorf("migrate: unknown route %q (no Go route has this method and pattern)", route))
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
		if err := decodeBody(body, &given); err != nil {
			badRequest(w, err)
			return
		}
		if given.Route == "" {
			badRequest(w, errors.New("migrate: missing \"route\" (\"METHOD /pattern\")"))
			return
		}
		c, ok := m.Config(given.Route)
		if !ok {
			badRequest(w, fmt.Errorf("migrate: unknown route %q (no Go route has this method and pattern)", given.Route))
			return
		}
		// The fields given replace the route's; decodeBody checked them.
		if err := json.Unmarshal(body, &c); err != nil {
			badRequest(w, fmt.Errorf("migrate: invalid JSON body: %v", strings.TrimPrefix(err.Error(), "json: ")))
			return
		}
		if c.Stage != "" {
			if _, err := ParseStage(string(c.Stage)); err != nil {
				badRequest(w, err)
				return
			}
		}
		st, err := m.SetRoute(user(r), c)
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
		if err := decodeBody(body, &req); err != nil {
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
			writeJSON(w, http.StatusOK, map[string]any{"all": true, "force_python": m.ForcePython(), "warning": errString(err)})
			return
		}
		st, ok := m.Route(req.Route)
		if !ok || err != nil && !strings.Contains(err.Error(), "not saved") {
			badRequest(w, err)
			return
		}
		writeJSON(w, http.StatusOK, withWarning{st, errString(err)})
	})
	// The API's paths answer other methods themselves, with 405 and the
	// API's JSON error, before the console's catch-all could take them.
	mux.HandleFunc("/routes", methodNotAllowed("GET, HEAD, POST"))
	mux.HandleFunc("/force-python", methodNotAllowed("GET, HEAD, POST"))
	if o.PythonRoutes != nil {
		mux.HandleFunc("GET /inventory", m.inventoryHandler(o.PythonRoutes))
		mux.HandleFunc("/inventory", methodNotAllowed("GET, HEAD"))
	}
	if o.Console != nil {
		mux.Handle("/", o.Console)
	}
	return mux
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
// an object, and anything after it are errors (which answer 400).
func decodeBody(body []byte, v any) error {
	names := map[string]bool{}
	t := reflect.TypeOf(v).Elem()
	for i := range t.NumField() {
		if f := t.Field(i); f.IsExported() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" {
				name = f.Name
			}
			names[name] = true
		}
	}
	invalid := func(format string, args ...any) error {
		return fmt.Errorf("migrate: invalid JSON body: "+format, args...)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return invalid("want one JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return invalid("%v", err)
		}
		key, _ := tok.(string) // in an object, a key is a string
		switch {
		case !names[key]:
			return invalid("unknown field %q", key)
		case seen[key]:
			return invalid("duplicate key %q", key)
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return invalid("%v", err)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return invalid("%v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return invalid("data after the JSON object")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return invalid("%v", strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
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
