package router_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/graft-dev/graft/internal/pythontest"
	"github.com/graft-dev/graft/router"
)

// urlForOracle answers, for a Flask endpoint and value, the path
// url_for builds, and what Flask (werkzeug 2.2's url_map, given the path
// a WSGI server decodes into PATH_INFO) routes a path to.
const urlForOracle = `
import json, sys
from urllib.parse import unquote
from flask import Flask, url_for
app = Flask("links")
app.add_url_rule("/u/<name>", "user")
app.add_url_rule("/files/<path:p>", "file")
adapter = app.url_map.bind("localhost")
for line in sys.stdin:
    q = json.loads(line)
    with app.test_request_context():
        built = url_for(q["endpoint"], **{q["pykey"]: q["value"]})
    try:
        ep, args = adapter.match(unquote(q["path"]))  # PATH_INFO, as werkzeug decodes it
        got = {"built": built, "endpoint": ep, "value": list(args.values())[0]}
    except Exception as e:
        got = {"built": built, "endpoint": "", "error": type(e).__name__}
    print(json.dumps(got), flush=True)
`

// TestURLAndFlaskURLFor checks what docs/migration.md says of r.URL
// against Flask 2.2: its links are spelled as urllib.parse.quote spells
// them, not always as url_for does (werkzeug keeps "$!'()*+,;:" and, in
// any parameter, "/"), but Flask routes each to the same endpoint and
// value, so a link that Go builds works while Python still serves the
// route, and Go's Router routes it back to the value too.
func TestURLAndFlaskURLFor(t *testing.T) {
	py := pythontest.StartOracle(t, "", urlForOracle, []string{"flask"})
	r := router.New()
	var got string
	h := func(key string) http.HandlerFunc {
		return func(_ http.ResponseWriter, req *http.Request) { got = router.Param(req, key) }
	}
	r.Get("/u/{name}", h("name")).Name("user")
	r.Get("/files/{*:[^/].*}", h("*")).Name("file")
	for _, tc := range []struct {
		endpoint, key, pykey, value string
		sameSpelling                bool
	}{
		{"user", "name", "name", "ada", true},
		{"user", "name", "name", "a b", true},
		{"user", "name", "name", "café", true},
		{"user", "name", "name", "x+y", false},   // url_for: /u/x+y
		{"user", "name", "name", "a;b,c", false}, // url_for keeps sub-delims
		{"user", "name", "name", "it's(1)!", false},
		{"user", "name", "name", "a@b&c=d", true},
		{"user", "name", "name", "100%", true},
		{"file", "*", "p", "docs/1 + 1.txt", false},
		{"file", "*", "p", "a/b/c.txt", true},
		{"file", "*", "p", "é/ü:x", false},
	} {
		t.Run(tc.endpoint+" "+tc.value, func(t *testing.T) {
			path, err := r.URL(tc.endpoint, tc.key, tc.value)
			if err != nil {
				t.Fatal(err)
			}
			var flask struct{ Built, Endpoint, Value, Error string }
			py.Ask(t, map[string]string{"endpoint": tc.endpoint, "pykey": tc.pykey, "value": tc.value, "path": path}, &flask)
			if flask.Endpoint != tc.endpoint || flask.Value != tc.value {
				t.Errorf("Flask routes Go's %s to %q %q (%s), want %q %q", path, flask.Endpoint, flask.Value, flask.Error, tc.endpoint, tc.value)
			}
			if (path == flask.Built) != tc.sameSpelling {
				t.Errorf("r.URL %s, url_for %s: same spelling %v, want %v", path, flask.Built, path == flask.Built, tc.sameSpelling)
			}
			got = "(not routed)"
			r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", path, nil))
			if got != tc.value {
				t.Errorf("the Router routes %s to %q, want %q", path, got, tc.value)
			}
		})
	}
}
