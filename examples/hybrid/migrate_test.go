package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/graft-dev/graft/examples/internal/cli"
	"github.com/graft-dev/graft/examples/internal/migration"
	"github.com/graft-dev/graft/examples/internal/opstest"
	"github.com/graft-dev/graft/migrate"
)

// startStaged serves the example's handler with the bundled app and a
// copy of stages (the example's stages.json when ""), the admin API and
// console on a real -admin-bind listener. It returns the app's server, the
// admin URL, the stages file and the migration.
func startStaged(t *testing.T, mount, stages string) (*httptest.Server, string, string, *migration.Migration) {
	t.Helper()
	file := opstest.StagesFile(t, stages)
	log := opstest.Logger()
	app := startLegacy(t, log)
	f := opstest.Flags(t)
	srv, admin, mg := opstest.ServeStaged(t, app, newHandler(&f, app, mount, log, nil), file, log)
	return srv, admin, file, mg
}

// send sends method u, with cookie unless it is "", and returns the
// response, its body read.
func send(t *testing.T, method, u, cookie string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestHybridShadow runs the shipped stages file: GET /api/users/{id} in
// shadow against the legacy Python implementation, whose real difference
// (a numeric id) is reported, whose timestamp is learned as noise, and
// whose served_by field the file ignores.
func TestHybridShadow(t *testing.T) {
	srv, admin, _, _ := startStaged(t, "", "")
	const route, n = "GET /api/users/{id}", 15
	for i := range n {
		resp, body := send(t, "GET", fmt.Sprintf("%s/api/users/%d", srv.URL, 40+i), "")
		if resp.StatusCode != 200 || !strings.Contains(body, `"served_by": "python"`) || !strings.Contains(body, fmt.Sprintf(`"id": %d,`, 40+i)) {
			t.Fatalf("GET /api/users/%d in shadow: %d %q, want Python's answer", 40+i, resp.StatusCode, body)
		}
	}
	var st migrate.RouteStatus
	opstest.WaitFor(t, "the comparisons", func() bool {
		st = opstest.RouteStatus(t, admin, route)
		return st.Counts.Compared == n
	})
	if st.Stage != migrate.StageShadow || st.Counts.Python != n || st.Counts.Go != 0 || st.Counts.Mismatched != n {
		t.Errorf("stage %s, counts %+v; want %d requests served by Python, all mismatched", st.Stage, st.Counts, n)
	}
	if len(st.MismatchPointers) != 1 || st.MismatchPointers["/id"] != n {
		t.Errorf("mismatch pointers %v, want only /id, %d times", st.MismatchPointers, n)
	}
	noise := strings.Join(st.NoisePointers, " ")
	if !strings.Contains(noise, "/generated_at") {
		t.Errorf("noise pointers %v, want /generated_at learned", st.NoisePointers)
	}
	// Comparisons finish in any order: some recent mismatch is one of the
	// requests sent, with Python's numeric id against Go's string.
	found := false
	for _, mm := range st.RecentMismatches {
		for i := 0; i < n; i++ {
			found = found || strings.Contains(mm.Diff, fmt.Sprintf("- python: %d", 40+i))
		}
	}
	if !found {
		t.Errorf("recent mismatches %+v, want one of the ids sent", st.RecentMismatches)
	}

	// The console shows it.
	resp, page := send(t, "GET", admin+"/", "")
	if resp.StatusCode != 200 || !strings.Contains(page, `data-route="GET /api/users/{id}"`) || !strings.Contains(page, `<td class="mono">/id</td>`) {
		t.Errorf("console: %d\n%s", resp.StatusCode, page)
	}
}

// TestHybridCanary checks the shipped canary (GET /api/hello/{name} at 50%
// by the uid cookie), its reverse shadow, stickiness, the kill switch of
// the admin API, and that the change is written to the stages file.
func TestHybridCanary(t *testing.T) {
	srv, admin, file, _ := startStaged(t, "", "")
	const route = "GET /api/hello/{name}"
	side := func(uid int) string {
		resp, body := send(t, "GET", srv.URL+"/api/hello/a%20b", fmt.Sprintf("uid=user-%d", uid))
		if resp.StatusCode != 200 || !strings.Contains(body, `"self":`) || !strings.Contains(body, `/api/hello/a%20b"`) {
			t.Fatalf("GET /api/hello/a%%20b: %d %q", resp.StatusCode, body)
		}
		if resp.Header.Get("X-Served-By") == "python" {
			return "python"
		}
		return "go"
	}
	const users = 200
	first := map[int]string{}
	count := map[string]int{}
	for uid := range users {
		first[uid] = side(uid)
		count[first[uid]]++
	}
	if count["go"] < users*35/100 || count["python"] < users*35/100 {
		t.Errorf("at 50%%: %v of %d users", count, users)
	}
	for uid := range 20 { // the same users again: the same side
		if s := side(uid); s != first[uid] {
			t.Errorf("user-%d went to %s, then to %s", uid, first[uid], s)
		}
	}
	var st migrate.RouteStatus
	opstest.WaitFor(t, "the reverse-shadow comparisons", func() bool {
		st = opstest.RouteStatus(t, admin, route)
		return st.Counts.Compared > 0 && st.Counts.Compared+st.Counts.Dropped >= int64(count["go"])/4
	})
	if st.Counts.Mismatched != 0 {
		t.Errorf("Go's hello differs from Python's: %v %+v", st.MismatchPointers, st.RecentMismatches)
	}

	// The global kill switch through the admin API: Python serves on the
	// next request, and the stages file records it.
	post := func(body string) {
		t.Helper()
		resp, err := http.Post(admin+"/force-python", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var out struct {
			ForcePython bool   `json:"force_python"`
			Warning     string `json:"warning"`
		}
		if err := json.Unmarshal(b, &out); err != nil || resp.StatusCode != 200 || out.Warning != "" {
			t.Fatalf("POST /force-python %s: %d %s", body, resp.StatusCode, b)
		}
	}
	post(`{"all": true, "on": true}`)
	for uid := range 20 {
		if s := side(uid); s != "python" {
			t.Fatalf("with the kill switch on, user-%d went to %s", uid, s)
		}
	}
	if b, _ := os.ReadFile(file); !strings.Contains(string(b), `"force_python": true`) {
		t.Errorf("the stages file does not record the kill switch:\n%s", b)
	}
	post(`{"all": true, "on": false}`)
	for uid := range 20 {
		if s := side(uid); s != first[uid] {
			t.Errorf("after the kill switch, user-%d went to %s, want %s", uid, s, first[uid])
		}
	}
}

// TestHybridStagesFileReload edits the stages file under the running
// server: a good edit is applied without a restart, a broken one keeps the
// stages.
func TestHybridStagesFileReload(t *testing.T) {
	srv, admin, file, mg := startStaged(t, "", "")
	const route = "GET /api/users/{id}"
	write := func(s string) {
		t.Helper()
		tmp := file + ".tmp"
		if err := os.WriteFile(tmp, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, file); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"routes": [{"route": "GET /api/users/{id}", "stage": "go"}]}`)
	opstest.WaitFor(t, "the edit", func() bool { return opstest.RouteStatus(t, admin, route).Stage == migrate.StageGo })
	if _, body := send(t, "GET", srv.URL+"/api/users/7", ""); !strings.Contains(body, `"served_by":"go"`) {
		t.Errorf("in stage go: %q", body)
	}
	write(`{"routes": [{"route": "GET /api/users/{id}", "stage": "python"},
  {"route": "GET /api/users/{id}", "stage": "nope"}]}`)
	// What the poll and SIGHUP do: the error names the line, the stages stay.
	if err := mg.Migrator().Reload(); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("Reload of a broken file: %v, want an error at line 2", err)
	}
	if st := opstest.RouteStatus(t, admin, route); st.Stage != migrate.StageGo {
		t.Errorf("a broken stages file changed the stage to %s", st.Stage)
	}
	if _, body := send(t, "GET", srv.URL+"/api/users/7", ""); !strings.Contains(body, `"served_by":"go"`) {
		t.Errorf("after a broken edit: %q", body)
	}
}

// TestHybridMigrationErrors checks the errors of bad migration flags.
func TestHybridMigrationErrors(t *testing.T) {
	tests := []struct {
		name, mount, stages, want string
	}{
		{"unknown route", "", `{"routes": [{"route": "GET /nope", "stage": "shadow"}]}`, `unknown route "GET /nope"`},
		{"bad stage", "", `{"routes": [
  {"route": "GET /api/users/{id}", "stage": "later"}]}`, "line 2"},
		{"no fallback", "/legacy", "", "needs Python"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := opstest.StagesFile(t, tc.stages)
			h := newHandler(&cli.Flags{}, http.NotFoundHandler(), tc.mount, opstest.Logger(), nil)
			mg, err := migration.Start(h, migration.Flags{Stages: file}, opstest.Logger(), nil)
			if err == nil {
				mg.Stop(t.Context())
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to say %q", err, tc.want)
			}
		})
	}
	h := newHandler(&cli.Flags{}, http.NotFoundHandler(), "", opstest.Logger(), nil)
	if _, err := migration.Start(h, migration.Flags{Stages: filepath.Join(t.TempDir(), "missing.json")}, opstest.Logger(), nil); err == nil {
		t.Error("a missing stages file: no error")
	}
	if mg, err := migration.Start(h, migration.Flags{}, opstest.Logger(), nil); mg != nil || err != nil {
		t.Errorf("without -stages and -admin-bind: %v, %v; want no migration", mg, err)
	}
	o, err := parseFlags([]string{"-stages", "s.json", "-admin-bind", "127.0.0.1:9091"})
	if err != nil || o.migrate.Stages != "s.json" || o.migrate.AdminBind != "127.0.0.1:9091" {
		t.Errorf("parseFlags: %+v, %v", o.migrate, err)
	}
}
