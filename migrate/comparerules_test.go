package migrate

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRulesChangeRestartsResults follows the playbook's shadow step with a
// real Flask app: the console shows a mismatch (/email), a person adds it
// to ignore, and the match rate must then be judged by the new rules.
// Before 2026-12-02 the mismatches judged by the old rules stayed in the
// counts, the pointers and the recent mismatches: the match rate stayed at
// 0% after the fix and rose only as new requests diluted it (50% after as
// many matching requests again), so "shadow until the match rate holds" could not
// be read without restarting the process.
func TestRulesChangeRestartsResults(t *testing.T) {
	py := startPython(t, "flaskmig:app")
	const route = "GET /api/diff/{id}"
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, e *env, path string, rules string)
	}{
		{"admin API", func(t *testing.T, e *env, _ string, rules string) {
			if code, out := e.post(t, "/routes", `{"route": "`+route+`", `+rules+`}`); code != 200 {
				t.Fatalf("POST /routes: %d %v", code, out)
			}
		}},
		{"stages file", func(t *testing.T, e *env, path string, rules string) {
			writeRulesFile(t, path, rules)
			if err := e.m.Reload(); err != nil {
				t.Fatalf("Reload: %v", err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "stages.json")
			writeRulesFile(t, path, `"percent": 0`)
			e := newEnv(t, py, Options{StagesFile: path, PollInterval: time.Hour}, diffRoutes)
			get := func(n int) {
				t.Helper()
				for i := range n {
					if code, body := e.get(t, fmt.Sprintf("/api/diff/%d", i)); code != 200 || !strings.Contains(body, "ada@example.com") {
						t.Fatalf("GET /api/diff/%d: %d %q, want Flask's answer", i, code, body)
					}
				}
				e.settle()
			}
			get(4)
			st := e.status(t, route)
			if st.Counts.Mismatched != 4 || st.MismatchPointers["/email"] != 4 || len(st.RecentMismatches) != 4 || st.ComparedSince != nil {
				t.Fatalf("before: counts %+v, pointers %v, %d recent, since %v; want 4 mismatches on /email, since start",
					st.Counts, st.MismatchPointers, len(st.RecentMismatches), st.ComparedSince)
			}

			// A change that leaves the rules alone keeps the results.
			tc.change(t, e, path, `"percent": 5`)
			if st := e.status(t, route); st.Counts.Mismatched != 4 || st.ComparedSince != nil {
				t.Fatalf("after a percent change: counts %+v, since %v; want the 4 mismatches kept", st.Counts, st.ComparedSince)
			}

			tc.change(t, e, path, `"percent": 5, "ignore": ["/email"]`)
			st = e.status(t, route)
			if st.Counts.Compared != 0 || st.Counts.Mismatched != 0 || len(st.MismatchPointers) != 0 || len(st.RecentMismatches) != 0 || st.ComparedSince == nil {
				t.Fatalf("after ignore /email: counts %+v, pointers %v, %d recent, since %v; want the old results dropped",
					st.Counts, st.MismatchPointers, len(st.RecentMismatches), st.ComparedSince)
			}
			if st.Counts.Python != 4 {
				t.Errorf("python %d, want the 4 requests served still counted", st.Counts.Python)
			}
			get(3)
			st = e.status(t, route)
			if st.Counts.Compared != 3 || st.Counts.Matched != 3 || st.Counts.Mismatched != 0 {
				t.Fatalf("after 3 more requests: counts %+v, want 3 compared, 3 matched", st.Counts)
			}

			page := consoleHTML(t, e.m)
			// The matches that ignore explains show what it ignores: the
			// console listed only the learned noise ("no noise learned"
			// beside "3 matched only thanks to noise").
			for _, want := range []string{
				`<b class="match-rate">100.0%</b>`,
				`<span class="compared-since">since ` + st.ComparedSince.UTC().Format("2006-01-02 15:04:05 UTC"),
				`<span class="ignored">ignored: <code>/email</code></span>`,
			} {
				if !strings.Contains(page, want) {
					t.Errorf("the console lacks %q", want)
				}
			}
		})
	}
}

// writeRulesFile writes a stages file with /api/diff/{id} in shadow and
// the given keys.
func writeRulesFile(t *testing.T, path, keys string) {
	t.Helper()
	data := `{"routes": [{"route": "GET /api/diff/{id}", "stage": "shadow", ` + keys + `}]}`
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
