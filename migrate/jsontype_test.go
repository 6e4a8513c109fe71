package migrate

import (
	"net/http"
	"strings"
	"testing"

	"github.com/graft-dev/graft/router"
)

// TestValueTypeErrors checks that a value of the wrong JSON type, in the
// stages file or in an admin API body, is named by its key and its JSON
// type, at its line. Before 2026-12-02 the file said "stages file line 1:
// json: cannot unmarshal string into Go value of type bool" (no key, Go's
// types, and line 1 wherever the value was), and a file saved with a byte
// order mark was refused with "invalid character 'ï'".
func TestValueTypeErrors(t *testing.T) {
	for _, tc := range []struct {
		name, file, want string
	}{
		{"force_python string", "{\n \"force_python\": \"yes\",\n \"routes\": []}", `line 2: "force_python" must be true or false, not a string`},
		{"percent string", "{\"routes\": [\n {\"route\": \"GET /x\",\n  \"percent\": \"5\"}]}", `line 3: "percent" must be a number, not a string`},
		{"percent out of range", "{\"routes\": [\n {\"route\": \"GET /x\", \"percent\": 1e400}]}", `line 2: "percent": 1e400 is out of range`},
		{"ignore string", "{\"routes\": [\n\n {\"route\": \"GET /x\", \"ignore\": \"/a\"}]}", `line 3: "ignore" must be an array of strings, not a string`},
		{"ignore number", "{\"routes\": [{\"route\": \"GET /x\", \"ignore\": [1]}]}", `line 1: "ignore" must be an array of strings, not a number`},
		{"shadow_unsafe number", "{\"routes\": [{\"route\": \"GET /x\", \"shadow_unsafe\": 1}]}", `"shadow_unsafe" must be true or false, not a number`},
		{"stage object", "{\"routes\": [{\"route\": \"GET /x\", \"stage\": {}}]}", `"stage" must be a string, not an object`},
		{"route array", "{\"routes\": [{\"route\": [\"GET /x\"]}]}", `"route" must be a string, not an array`},
		{"rollback reason", "{\"routes\": [], \"rollbacks\": {\"GET /x\": {\"reason\": false}}}", `"reason" must be a string, not a bool`},
		{"byte order mark", "\xef\xbb\xbf{\"routes\": [{\"route\": \"GET /x\", \"stage\": \"python\"}]}", ""},
		{"byte order mark alone", "\xef\xbb\xbf\n", "the file is empty"},
	} {
		t.Run("file "+tc.name, func(t *testing.T) {
			f, err := ParseFile([]byte(tc.file))
			if tc.want == "" {
				if err != nil || len(f.Routes) != 1 || f.Routes[0].Stage != StagePython {
					t.Fatalf("ParseFile: %+v, %v; want the route in python", f, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "Go value") {
				t.Fatalf("ParseFile: %v, want %q", err, tc.want)
			}
		})
	}

	e := newEnv(t, http.NotFoundHandler(), Options{}, func(r *router.Router) {
		r.Get("/x", func(http.ResponseWriter, *http.Request) {})
	})
	for _, tc := range []struct {
		path, body, want string
	}{
		{"/routes", `{"route": "GET /x", "percent": "5"}`, `invalid JSON body: "percent" must be a number, not a string`},
		{"/routes", `{"route": "GET /x", "ignore": "/a"}`, `invalid JSON body: "ignore" must be an array of strings, not a string`},
		{"/routes", `{"route": 5}`, `invalid JSON body: "route" must be a string, not a number`},
		{"/routes", `{"route": "GET /x", "shadow_sample": 1e999}`, `invalid JSON body: "shadow_sample": 1e999 is out of range`},
		{"/force-python", `{"all": true, "on": "true"}`, `invalid JSON body: "on" must be true or false, not a string`},
	} {
		t.Run("api "+tc.body, func(t *testing.T) {
			code, out := e.post(t, tc.path, tc.body)
			if msg, _ := out["error"].(string); code != http.StatusBadRequest || !strings.Contains(msg, tc.want) || strings.Contains(msg, "Go struct") {
				t.Fatalf("%d %v, want 400 with %q", code, out, tc.want)
			}
		})
	}
}
