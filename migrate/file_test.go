package migrate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/graft-dev/graft/internal/pythontest"
	"github.com/graft-dev/graft/router"
)

func writeFile(t testing.TB, path, data string) {
	t.Helper()
	if err := writeAtomic(path, []byte(data)); err != nil {
		t.Fatal(err)
	}
}

const stagesPython = `{"force_python": false, "routes": [
  {"route": "GET /api/side", "stage": "python"}
]}
`

// TestStagesFile edits the stages file under a running Migrator serving a
// real Flask app.
func TestStagesFile(t *testing.T) {
	py := startPython(t, "flaskmig:app")
	dir := t.TempDir()
	path := filepath.Join(dir, "stages.json")
	writeFile(t, path, stagesPython)
	e := newEnv(t, py, Options{StagesFile: path, PollInterval: 10 * time.Millisecond}, func(r *router.Router) {
		r.Get("/api/side", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "go\n") })
	})
	served := func() string { _, b := e.get(t, "/api/side"); return b }
	if got := served(); got != "python\n" {
		t.Fatalf("at start: %q", got)
	}

	t.Run("an edit is picked up without a restart", func(t *testing.T) {
		writeFile(t, path, strings.Replace(stagesPython, `"python"`, `"go"`, 1))
		eventually(t, "the edit to apply", func() bool { return served() == "go\n" })
		if !strings.Contains(e.logs.String(), `graft.route="GET /api/side" graft.from=python graft.to=go user.name=file`) {
			t.Fatalf("change not logged:\n%s", e.logs)
		}
	})

	t.Run("a broken edit keeps the old stages", func(t *testing.T) {
		for _, bad := range []struct{ data, err string }{
			{`{"routes": [` + "\n" + `{"route": "GET /api/side", "stage": "pyhton"}]}`, "line 2: unknown stage"},
			{`{"routes": [` + "\n\n" + `{"route": "GET /nope", "stage": "python"}]}`, `line 3: unknown route "GET /nope"`},
			{`{"routes": [` + "\n" + `{"route": "GET /api/side", "stage": "python",` + "\n" + `"precent": 5}]}`, `line 3: unknown key "precent"`},
			{`{"routes": [{"route": "GET /api/side", "stage": "python"}`, "unexpected end"},
		} {
			writeFile(t, path, bad.data)
			eventually(t, "the error to be logged: "+bad.err+"\n"+e.logs.String(), func() bool { return strings.Contains(strings.ReplaceAll(e.logs.String(), `\"`, `"`), bad.err) })
			if got := served(); got != "go\n" {
				t.Fatalf("after %q: served %q, want the old stage go", bad.data, got)
			}
			if err := e.m.Reload(); err == nil || !strings.Contains(err.Error(), bad.err) || !strings.HasSuffix(err.Error(), " (in "+path+")") {
				t.Fatalf("Reload() = %v, want %q, naming the file", err, bad.err)
			}
			for _, line := range strings.Split(e.logs.String(), "\n") {
				if strings.Contains(line, "stages file not applied") && strings.Count(line, path) != 1 {
					t.Errorf("log line names the file %d times; want once (graft.file):\n%s", strings.Count(line, path), line)
				}
			}
		}
	})

	t.Run("a ConfigMap symlink swap is picked up", func(t *testing.T) {
		cm := t.TempDir()
		for _, v := range []string{"..v1", "..v2"} {
			os.Mkdir(filepath.Join(cm, v), 0o755)
		}
		os.WriteFile(filepath.Join(cm, "..v1", "stages.json"), []byte(stagesPython), 0o644)
		os.WriteFile(filepath.Join(cm, "..v2", "stages.json"), []byte(strings.Replace(stagesPython, `"python"`, `"go"`, 1)), 0o644)
		if err := os.Symlink("..v1", filepath.Join(cm, "..data")); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(cm, "stages.json")
		os.Symlink(filepath.Join("..data", "stages.json"), link)
		e2 := newEnv(t, e.m.r.StagedRoutes()[0].Fallback, Options{StagesFile: link, PollInterval: 10 * time.Millisecond}, func(r *router.Router) {
			r.Get("/api/side", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "go\n") })
		})
		if _, got := e2.get(t, "/api/side"); got != "python\n" {
			t.Fatalf("at start: %q", got)
		}
		// Swap ..data as the kubelet does: a new link renamed over it.
		os.Symlink("..v2", filepath.Join(cm, "..data_tmp"))
		if err := os.Rename(filepath.Join(cm, "..data_tmp"), filepath.Join(cm, "..data")); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the swap to apply", func() bool { _, b := e2.get(t, "/api/side"); return b == "go\n" })
	})

	t.Run("admin changes are written back", func(t *testing.T) {
		// The last bad edit is fixed first: one that does not apply is
		// never overwritten (TestFileAndAPIChanges).
		writeFile(t, path, strings.Replace(stagesPython, `"python"`, `"go"`, 1))
		code, out := e.post(t, "/routes", `{"route": "GET /api/side", "stage": "canary", "percent": 12.5, "sticky": "cookie:sid"}`)
		if code != 200 || out["warning"] != nil {
			t.Fatalf("POST /routes: %d %v", code, out)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		f, err := ParseFile(data)
		if err != nil {
			t.Fatalf("written file does not parse: %v\n%s", err, data)
		}
		if len(f.Routes) != 1 || f.Routes[0].Stage != StageCanary || f.Routes[0].Percent != 12.5 || f.Routes[0].Sticky != "cookie:sid" {
			t.Fatalf("written file: %s", data)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 1 {
			t.Fatalf("temporary files left: %v", entries)
		}
	})
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name     string
		fallback bool
		file     string
		routes   []RouteConfig
		err      string
	}{
		{"unknown route in code", true, "", []RouteConfig{{Route: "GET /nope", Stage: StageShadow}}, `migrate: unknown route "GET /nope"`},
		{"stage without fallback", false, "", []RouteConfig{{Route: "GET /x", Stage: StageShadow}}, "stage shadow needs Python, but no fallback covers the route"},
		{"canary without fallback, in the file", false, "{\"routes\": [\n {\"route\": \"GET /x\", \"stage\": \"canary\", \"percent\": 5}]}", nil, "line 2: route \"GET /x\": stage canary needs Python"},
		{"go without fallback is fine", false, `{"routes": [{"route": "GET /x", "stage": "go"}]}`, nil, ""},
		{"missing file", true, "-", nil, "migrate: reading stages file: open " + filepath.Join(dir, "missing.json") + ": no such file or directory (create it: a file holding {} configures no route)"},
		{"empty file", true, " \n", nil, "migrate: stages file line 1: the file is empty (a file holding {} configures no route)"},
		{"bad percent", true, "", []RouteConfig{{Route: "GET /x", Stage: StageCanary, Percent: 12.345}}, "not a multiple of 0.01"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := router.New()
			r.Get("/x", func(http.ResponseWriter, *http.Request) {})
			if tc.fallback {
				r.Fallback(http.NotFoundHandler())
			}
			o := Options{Registerer: prometheus.NewRegistry(), Logger: discardLogger(), Routes: tc.routes}
			switch tc.file {
			case "":
			case "-":
				o.StagesFile = filepath.Join(dir, "missing.json")
			default:
				o.StagesFile = filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".json")
				os.WriteFile(o.StagesFile, []byte(tc.file), 0o644)
			}
			m, err := New(r, o)
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				m.Shutdown(t.Context())
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("New() = %v, want %q", err, tc.err)
			}
		})
	}
}

func TestAdminErrors(t *testing.T) {
	r := router.New()
	r.Get("/covered", func(http.ResponseWriter, *http.Request) {})
	r.Route("/bare", func(sub *router.Router) {
		sub.Get("/x", func(http.ResponseWriter, *http.Request) {})
	})
	r.Fallback(http.NotFoundHandler())
	nofb := router.New()
	nofb.Get("/go-only", func(http.ResponseWriter, *http.Request) {})
	nofb.Mount("/", r)
	e := &env{r: nofb, reg: prometheus.NewRegistry(), logs: &pythontest.Buffer{}}
	m, err := New(nofb, Options{Registerer: e.reg, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	e.m = m
	e.admin = newServer(t, m.Handler(AdminOptions{}))
	for _, tc := range []struct {
		path, body, err string
	}{
		{"/routes", `{"stage": "go"}`, `missing "route"`},
		{"/routes", `{"route": "GET /nope", "stage": "go"}`, `unknown route "GET /nope"`},
		{"/routes", `{"route": "GET /covered", "stage": "gone"}`, `unknown stage "gone"`},
		{"/routes", `{"route": "GET /covered", "stage": "canary", "percent": 101}`, "percent 101 is not between 0 and 100"},
		{"/routes", `{"route": "GET /covered", "stage": "canary", "sticky": "session"}`, `unknown sticky key "session"`},
		{"/routes", `{"route": "GET /covered", "stage": "canary", "precent": 5}`, `unknown field "precent"`},
		{"/routes", `{"route": "GET /go-only", "stage": "shadow"}`, "no fallback covers the route"},
		{"/routes", `{"route": "GET /covered", "shadow_sample": 2}`, "shadow_sample 2 is not between 0 and 1"},
		{"/routes", `not json`, "invalid JSON"},
		{"/routes", `{"route": "GET /covered", "stage": "python", "stage": "go"}`, `duplicate key "stage"`},
		{"/routes", `{"route": "GET /covered", "Stage": "python"}`, `unknown field "Stage"`},
		{"/routes", `{"route": "GET /covered", "stage": "python"} {"route": "GET /covered", "stage": "go"}`, "data after the JSON object"},
		{"/routes", `{"route": "GET /covered", "percent": "5"}`, "invalid JSON body: \"percent\" must be a number, not a string"},
		{"/routes", `["GET /covered"]`, "want one JSON object"},
		{"/force-python", `{"all": true, "on": true} {"all": true, "on": false}`, "data after the JSON object"},
		{"/force-python", `{"all": true, "on": true, "on": false}`, `duplicate key "on"`},
		{"/force-python", `{"all": true, "On": true}`, `unknown field "On"`},
		{"/force-python", `{"all": true, "on": true} trailing`, "data after the JSON object"},
		{"/force-python", `{"route": "GET /covered"}`, `missing "on"`},
		{"/force-python", `{"on": true}`, `either "route" or "all"`},
		{"/force-python", `{"route": "GET /go-only", "on": true}`, "no fallback covers the route"},
		{"/force-python", `{"route": "GET /nope", "on": true}`, "unknown route"},
	} {
		t.Run(tc.path+" "+tc.body, func(t *testing.T) {
			code, out := e.post(t, tc.path, tc.body)
			if code != http.StatusBadRequest || !strings.Contains(out["error"].(string), tc.err) {
				t.Fatalf("%d %v, want 400 with %q", code, out, tc.err)
			}
		})
	}
	if m.ForcePython() {
		t.Fatal("a refused body turned the global kill switch on")
	}
	if c, _ := m.Config("GET /covered"); c.Stage != "" {
		t.Fatalf("a refused body changed the route: %+v", c)
	}
	t.Run("other methods on the API paths", func(t *testing.T) {
		// With a console, its catch-all must not take the API's paths.
		console := newServer(t, m.Handler(AdminOptions{Console: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "console")
		})}))
		for _, srv := range []string{e.admin.URL, console.URL} {
			for _, tc := range []struct{ method, path string }{
				{"PUT", "/routes"}, {"DELETE", "/routes"}, {"PATCH", "/routes"},
				{"PUT", "/force-python"}, {"DELETE", "/force-python"},
			} {
				req, _ := http.NewRequest(tc.method, srv+tc.path, strings.NewReader(`{}`))
				req.Header.Set("Content-Type", "application/json")
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				var out map[string]string
				err = json.NewDecoder(res.Body).Decode(&out)
				res.Body.Close()
				if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "GET, HEAD, POST" ||
					err != nil || !strings.Contains(out["error"], "method "+tc.method+" not allowed") {
					t.Errorf("%s %s: %d, Allow %q, %v %v; want 405 with Allow and a JSON error",
						tc.method, tc.path, res.StatusCode, res.Header.Get("Allow"), out, err)
				}
			}
		}
		res, err := http.Get(console.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if string(b) != "console" {
			t.Fatalf("GET / went to %q, not the console", b)
		}
	})
	t.Run("form content type", func(t *testing.T) {
		res, err := http.Post(e.admin.URL+"/routes", "application/x-www-form-urlencoded", strings.NewReader("route=GET+/covered&stage=python"))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusBadRequest {
			t.Fatalf("status %d", res.StatusCode)
		}
	})
	t.Run("sub-router routes are listed with their full pattern", func(t *testing.T) {
		st := e.status(t, "GET /bare/x")
		if !st.Fallback || st.Stage != StageGo {
			t.Fatalf("%+v", st)
		}
		if st := e.status(t, "GET /go-only"); st.Fallback {
			t.Fatalf("%+v", st)
		}
	})
	t.Run("GET / without a console is 404", func(t *testing.T) {
		res, _ := http.Get(e.admin.URL + "/")
		res.Body.Close()
		if res.StatusCode != 404 {
			t.Fatal(res.StatusCode)
		}
	})
}

// TestFileAndAPIChanges mixes edits of the stages file with changes
// through the API: neither undoes the other, and a bad edit is reported
// each time it comes back.
func TestFileAndAPIChanges(t *testing.T) {
	const both = `{"routes": [{"route": "GET /a", "stage": "python"}, {"route": "GET /b", "stage": "python"}]}`
	setup := func(t *testing.T, poll time.Duration) (*env, string) {
		path := filepath.Join(t.TempDir(), "stages.json")
		writeFile(t, path, both)
		py := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "python\n") })
		e := newEnv(t, py, Options{StagesFile: path, PollInterval: poll}, func(r *router.Router) {
			r.Get("/a", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "go\n") })
			r.Get("/b", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "go\n") })
		})
		return e, path
	}
	served := func(e *env, path string) string { _, b := e.get(t, path); return b }

	t.Run("an edit not yet read is applied, then the change goes on top", func(t *testing.T) {
		e, path := setup(t, time.Hour)
		writeFile(t, path, strings.Replace(both, `"GET /b", "stage": "python"`, `"GET /b", "stage": "go"`, 1))
		if code, out := e.post(t, "/routes", `{"route": "GET /a", "stage": "go"}`); code != 200 {
			t.Fatalf("POST /routes: %d %v", code, out)
		}
		if a, b := served(e, "/a"), served(e, "/b"); a != "go\n" || b != "go\n" {
			t.Fatalf("/a served by %q, /b by %q; want go for both", a, b)
		}
		data, _ := os.ReadFile(path)
		f, err := ParseFile(data)
		if err != nil || len(f.Routes) != 2 || f.Routes[0].Stage != StageGo || f.Routes[1].Stage != StageGo {
			t.Fatalf("file written back: %v\n%s", err, data)
		}
		if !strings.Contains(e.logs.String(), `graft.route="GET /b" graft.from=python graft.to=go user.name=file`) {
			t.Fatalf("the edit was not logged as the file's:\n%s", e.logs)
		}
	})

	t.Run("a bad edit is never overwritten", func(t *testing.T) {
		e, path := setup(t, time.Hour)
		bad := `{"routes": [{"route": "GET /b", "stage": "pyhton"}]}`
		writeFile(t, path, bad)
		err := e.m.SetForcePython("ops", "", true)
		if err == nil || !strings.Contains(err.Error(), "not saved") {
			t.Fatalf("SetForcePython: %v, want the change not saved", err)
		}
		if !e.m.ForcePython() || served(e, "/a") != "python\n" {
			t.Fatal("the kill switch did not take effect in memory")
		}
		if data, _ := os.ReadFile(path); string(data) != bad {
			t.Fatalf("the bad edit was overwritten:\n%s", data)
		}
		if !strings.Contains(e.logs.String(), `unknown stage \"pyhton\"`) {
			t.Fatalf("the bad edit was not reported:\n%s", e.logs)
		}
	})

	t.Run("a reload never undoes a change made meanwhile", func(t *testing.T) {
		e, _ := setup(t, time.Hour)
		var stop atomic.Bool
		done := make(chan struct{})
		go func() {
			defer close(done)
			for !stop.Load() {
				e.m.Reload()
			}
		}()
		lost := 0
		for range 500 {
			if err := e.m.SetForcePython("ops", "", true); err != nil {
				t.Fatal(err)
			}
			time.Sleep(50 * time.Microsecond)
			if !e.m.ForcePython() {
				lost++
			}
			if err := e.m.SetForcePython("ops", "", false); err != nil {
				t.Fatal(err)
			}
		}
		stop.Store(true)
		<-done
		if lost > 0 {
			t.Errorf("the kill switch was off again right after it was set, %d times in 500", lost)
		}
	})

	t.Run("the same bad edit is reported again after a good one", func(t *testing.T) {
		e, path := setup(t, 10*time.Millisecond)
		count := func() int { return strings.Count(e.logs.String(), "stages file not applied") }
		bad := `{"routes": [{"route": "GET /a", "stage": "pyhton"}]}`
		writeFile(t, path, bad)
		eventually(t, "the first report", func() bool { return count() == 1 })
		writeFile(t, path, `{"routes": [{"route": "GET /a", "stage": "go"}]}`)
		eventually(t, "the good edit", func() bool { return served(e, "/a") == "go\n" })
		writeFile(t, path, bad)
		eventually(t, "the second report", func() bool { return count() == 2 })
	})
}

// TestForcePythonNeedsFallback checks that a kill switch set on a route
// that no fallback covers (it would do nothing: Go serves such a route
// whatever its configuration) is refused with the same error wherever it
// is set: in code, in the stages file, through SetRoute and the admin API,
// as SetForcePython already did.
func TestForcePythonNeedsFallback(t *testing.T) {
	const want = `route "GET /x": force_python needs Python, but no fallback covers the route`
	newRouter := func() *router.Router {
		r := router.New()
		r.Get("/x", func(http.ResponseWriter, *http.Request) {})
		return r
	}
	t.Run("in code", func(t *testing.T) {
		_, err := New(newRouter(), Options{Registerer: prometheus.NewRegistry(), Logger: discardLogger(),
			Routes: []RouteConfig{{Route: "GET /x", ForcePython: true}}})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("New() = %v, want %q", err, want)
		}
	})
	t.Run("in the stages file", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "stages.json")
		os.WriteFile(f, []byte("{\"routes\": [\n{\"route\": \"GET /x\", \"force_python\": true}]}"), 0o644)
		_, err := New(newRouter(), Options{Registerer: prometheus.NewRegistry(), Logger: discardLogger(), StagesFile: f})
		if err == nil || !strings.Contains(err.Error(), "line 2: "+want) {
			t.Fatalf("New() = %v, want line 2: %q", err, want)
		}
	})
	e := newEnv(t, nil, Options{}, func(r *router.Router) {
		r.Get("/x", func(http.ResponseWriter, *http.Request) {})
	})
	t.Run("SetRoute", func(t *testing.T) {
		if _, err := e.m.SetRoute("me", RouteConfig{Route: "GET /x", ForcePython: true}); err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("SetRoute() = %v, want %q", err, want)
		}
	})
	t.Run("POST /routes", func(t *testing.T) {
		code, out := e.post(t, "/routes", `{"route": "GET /x", "force_python": true}`)
		if code != http.StatusBadRequest || !strings.Contains(fmt.Sprint(out["error"]), want) {
			t.Fatalf("POST /routes: %d %v, want 400 %q", code, out, want)
		}
	})
	t.Run("SetForcePython", func(t *testing.T) {
		if err := e.m.SetForcePython("me", "GET /x", true); err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("SetForcePython() = %v, want %q", err, want)
		}
	})
	if c, _ := e.m.Config("GET /x"); c.ForcePython {
		t.Fatalf("the refused kill switch is in the configuration: %+v", c)
	}
}

// TestStagesFileLimits checks that a stages file bigger than 4 MiB, or
// one that is not a regular file (a device that never ends), is refused
// with an error that says why, at start and at a reload, and that the old
// stages stay and the file is not overwritten by a change made meanwhile.
func TestStagesFileLimits(t *testing.T) {
	big := append([]byte(`{"routes": []}`), bytes.Repeat([]byte(" "), maxStagesFile)...)
	newRouter := func() *router.Router {
		r := router.New()
		r.Get("/x", func(http.ResponseWriter, *http.Request) {})
		r.Fallback(http.NotFoundHandler())
		return r
	}
	for _, tc := range []struct{ name, path, err string }{
		{"too big at start", "", "bigger than 4 MiB"},
		{"device at start", "/dev/zero", "/dev/zero is a character device, not a regular file"},
		// It said "is not a regular file (d---------)".
		{"directory at start", "dir", "is a directory, not a regular file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path
			switch path {
			case "":
				path = filepath.Join(t.TempDir(), "stages.json")
				os.WriteFile(path, big, 0o644)
			case "dir":
				path = t.TempDir()
			}
			_, err := New(newRouter(), Options{Registerer: prometheus.NewRegistry(), Logger: discardLogger(), StagesFile: path})
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("New() = %v, want %q", err, tc.err)
			}
		})
	}
	t.Run("too big at reload", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "stages.json")
		os.WriteFile(path, []byte(`{"routes": [{"route": "GET /x", "stage": "shadow"}]}`), 0o644)
		logs := &pythontest.Buffer{}
		m, err := New(newRouter(), Options{Registerer: prometheus.NewRegistry(), Logger: newTextLogger(logs), StagesFile: path, PollInterval: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Shutdown(t.Context())
		os.WriteFile(path, big, 0o644)
		if err := m.Reload(); err == nil || !strings.Contains(err.Error(), "bigger than 4 MiB") {
			t.Fatalf("Reload() = %v, want an error saying the file is too big", err)
		}
		if st, _ := m.Route("GET /x"); st.Stage != StageShadow {
			t.Fatalf("after the failed reload the stage is %q, want the old one (shadow)", st.Stage)
		}
		if !strings.Contains(logs.String(), "bigger than 4 MiB") {
			t.Errorf("the failed reload is not logged:\n%s", logs)
		}
		if _, err := m.SetRoute("me", RouteConfig{Route: "GET /x", Stage: StagePython}); err == nil || !strings.Contains(err.Error(), "not saved") {
			t.Errorf("SetRoute() = %v, want the change made in memory only", err)
		}
		if data, _ := os.ReadFile(path); !bytes.Equal(data, big) {
			t.Errorf("the stages file was overwritten (%d bytes)", len(data))
		}
	})
}

// TestParseRollbacks checks the "rollbacks" object of a stages file.
func TestParseRollbacks(t *testing.T) {
	f, err := ParseFile([]byte(`{"routes": [], "rollbacks": {"get /x": {"reason": "go 5xx", "at": "2026-12-01T02:40:00.5Z"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if rb, ok := f.Rollbacks["GET /x"]; !ok || rb.Reason != "go 5xx" || !rb.At.Equal(time.Date(2026, 12, 1, 2, 40, 0, 5e8, time.UTC)) {
		t.Fatalf("rollbacks %+v", f.Rollbacks)
	}
	for _, tc := range []struct{ data, want string }{
		{`{"rollbacks": {"x": {}}}`, `line 1: rollbacks: route "x" is not "METHOD /pattern"`},
		{"{\"rollbacks\": {\n\"GET /x\": {\"at\": \"yesterday\"}}}", `line 2: rollbacks: "GET /x": "at" is not an RFC 3339 time: "yesterday"`},
		{"{\"rollbacks\": {\"GET /x\": {\"why\": 1}}}", `line 1: rollbacks: unknown key "why" (want reason or at)`},
		{"{\"rollbacks\": {\"GET /x\": {}, \"get /x\": {}}}", `line 1: rollbacks: route "GET /x" listed twice`},
		{`{"rollbacks": []}`, `line 1: expected "{", found "["`},
	} {
		if _, err := ParseFile([]byte(tc.data)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseFile(%s): %v, want %q", tc.data, err, tc.want)
		}
	}
}

// TestStagesFileRevertedEdit checks the poll's view of a broken edit: a
// file put back as it was before the edit (the usual fix of a typo)
// applies again, and a broken file that Reload (SIGHUP) has reported is
// not reported again by the poll.
func TestStagesFileRevertedEdit(t *testing.T) {
	const good = `{"routes": [{"route": "GET /x", "stage": "shadow"}]}`
	const bad = `{"routes": [{"route": "GET /x", "stage": "shadwo"}]}`
	start := func(t *testing.T) (*Migrator, string, *pythontest.Buffer) {
		r := router.New()
		r.Get("/x", func(http.ResponseWriter, *http.Request) {})
		r.Fallback(http.NotFoundHandler())
		path := filepath.Join(t.TempDir(), "stages.json")
		writeFile(t, path, good)
		logs := &pythontest.Buffer{}
		m, err := New(r, Options{Registerer: prometheus.NewRegistry(), Logger: newTextLogger(logs), StagesFile: path, PollInterval: 5 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Shutdown(context.Background()) })
		return m, path, logs
	}
	notApplied := func(logs *pythontest.Buffer) int { return strings.Count(logs.String(), "stages file not applied") }

	t.Run("the file put back as it was applies again", func(t *testing.T) {
		m, path, _ := start(t)
		writeFile(t, path, bad)
		eventually(t, "the broken edit to be reported", func() bool { return m.FileError() != nil })
		writeFile(t, path, good)
		eventually(t, "the file put back to apply (FileError nil)", func() bool { return m.FileError() == nil })
	})
	t.Run("a change made in memory meanwhile is replaced by the file put back", func(t *testing.T) {
		m, path, _ := start(t)
		writeFile(t, path, bad)
		eventually(t, "the broken edit to be reported", func() bool { return m.FileError() != nil })
		if _, err := m.SetRoute("me", RouteConfig{Route: "GET /x", Stage: StagePython}); err == nil || !strings.Contains(err.Error(), "not saved") {
			t.Fatalf("SetRoute() = %v, want the change made in memory only", err)
		}
		writeFile(t, path, good)
		eventually(t, "the file put back to replace the stages", func() bool {
			st, _ := m.Route("GET /x")
			return st.Stage == StageShadow && m.FileError() == nil
		})
	})
	// A removed file was never reported: the console said it applied,
	// and the next start failed ("create it").
	t.Run("a removed file is reported once, and applies again when it is back", func(t *testing.T) {
		m, path, logs := start(t)
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the removal to be reported", func() bool {
			err := m.FileError()
			return err != nil && strings.Contains(err.Error(), "no such file or directory (create it")
		})
		if st, _ := m.Route("GET /x"); st.Stage != StageShadow {
			t.Errorf("after the removal the stage is %q, want the one in effect (shadow)", st.Stage)
		}
		time.Sleep(20 * 5 * time.Millisecond) // twenty polls
		if n := notApplied(logs); n != 1 {
			t.Errorf("the removal was logged %d times, want once:\n%s", n, logs)
		}
		writeFile(t, path, good)
		eventually(t, "the file put back to apply", func() bool { return m.FileError() == nil })
	})
	t.Run("a broken file reported by Reload is not reported again by the poll", func(t *testing.T) {
		m, path, logs := start(t)
		writeFile(t, path, bad)
		if err := m.Reload(); err == nil {
			t.Fatal("Reload() = nil, want the broken file's error")
		}
		n := notApplied(logs)
		time.Sleep(20 * 5 * time.Millisecond) // twenty polls
		if got := notApplied(logs); got != n {
			t.Errorf("the broken file was reported %d times after Reload's report, want 0:\n%s", got-n, logs)
		}
		if err := m.Reload(); err == nil || notApplied(logs) != n+1 {
			t.Errorf("Reload() = %v, with %d reports; want an explicit Reload to report it again", err, notApplied(logs)-n)
		}
	})
}

// TestReadFile checks ReadFile's errors, New's for the same files, with no
// router.
func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	writeFile(t, good, `{"routes": [{"route": "GET /nope", "stage": "shadow"}]}`)
	bad := filepath.Join(dir, "bad.json")
	writeFile(t, bad, "{\"routes\": [\n{\"route\": \"GET /x\", \"stage\": \"later\"}]}")
	for _, tc := range []struct{ name, path, err string }{
		{"a route that exists nowhere is not its business", good, ""},
		{"missing", filepath.Join(dir, "missing.json"), "migrate: reading stages file: open " + filepath.Join(dir, "missing.json") + ": no such file or directory (create it: a file holding {} configures no route)"},
		{"broken", bad, `migrate: stages file line 2: unknown stage "later" (want python, shadow, canary or go) (in ` + bad + ")"},
		{"directory", dir, "migrate: reading stages file: " + dir + " is a directory, not a regular file"},
		{"device", "/dev/zero", "migrate: reading stages file: /dev/zero is a character device, not a regular file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := ReadFile(tc.path)
			if tc.err == "" {
				if err != nil || len(f.Routes) != 1 || f.Routes[0].Route != "GET /nope" {
					t.Fatalf("ReadFile() = %+v, %v", f, err)
				}
				return
			}
			if err == nil || err.Error() != tc.err {
				t.Fatalf("ReadFile() = %v, want %q", err, tc.err)
			}
		})
	}
}
