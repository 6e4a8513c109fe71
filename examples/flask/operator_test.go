package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/graft-dev/graft/examples/internal/migration"
	"github.com/graft-dev/graft/examples/internal/opstest"
	"github.com/graft-dev/graft/migrate"
)

const productRoute = "GET /shop/api/products/{id:[0-9]+}"

// stagesWith is a stages file with GET /shop/api/products/{id} at stage
// and percent (by the uid cookie), and the global switch as given.
func stagesWith(stage string, percent float64, forcePython bool) string {
	return fmt.Sprintf(`{"force_python": %v, "routes": [{"route": %q, "stage": %q, "percent": %v, "sticky": "cookie:uid"}]}`,
		forcePython, productRoute, stage, percent)
}

// writeStages replaces the stages file as an operator's tool does: a new
// file renamed over the old one.
func writeStages(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path+".new", []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
}

// stagesFileState is GET /stages-file.
func stagesFileState(t *testing.T, admin string) (applied bool, errText string) {
	t.Helper()
	r := do(t, nil, "GET", admin+"/stages-file", "", "")
	var v struct {
		Applied bool    `json:"applied"`
		Error   *string `json:"error"`
	}
	if err := json.Unmarshal([]byte(r.body), &v); err != nil {
		t.Fatalf("GET /stages-file: %d %q: %v", r.status, r.body, err)
	}
	if v.Error != nil {
		errText = *v.Error
	}
	return v.Applied, errText
}

// load sends GET /shop/api/products/N from 4 clients until stop is
// called, and counts the answers that were not a product.
type load struct {
	stop   chan struct{}
	wg     sync.WaitGroup
	n, bad atomic.Int64
	first  atomic.Value // string: the first bad answer
}

func startLoad(t *testing.T, base string) *load {
	l := &load{stop: make(chan struct{})}
	for g := range 4 {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			c := &http.Client{}
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				req, _ := http.NewRequest("GET", fmt.Sprintf("%s/shop/api/products/%d", base, 1+i%3), nil)
				req.Header.Set("Cookie", fmt.Sprintf("uid=load-%d-%d", g, i%50))
				resp, err := c.Do(req)
				l.n.Add(1)
				if err != nil {
					l.bad.Add(1)
					l.first.CompareAndSwap(nil, err.Error())
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || !strings.Contains(string(b), `"price_cents"`) {
					l.bad.Add(1)
					l.first.CompareAndSwap(nil, fmt.Sprintf("%d %q", resp.StatusCode, b))
				}
			}
		}()
	}
	return l
}

func (l *load) end(t *testing.T, during string) {
	t.Helper()
	close(l.stop)
	l.wg.Wait()
	if l.bad.Load() > 0 || l.n.Load() == 0 {
		t.Errorf("%s: %d of %d requests under load failed, the first: %v", during, l.bad.Load(), l.n.Load(), l.first.Load())
	}
}

// TestOperatorWalk is an operator's walk through a migration of GET
// /shop/api/products/{id} against the real Flask shop, under load: the
// canary raised in the stages file (10%, 20%, 50%) over 1,000 users, the
// kill switches from the admin API, the console and the stages file, and
// broken edits of the stages file.
func TestOperatorWalk(t *testing.T) {
	log := opstest.Logger()
	stages := opstest.StagesFile(t, stagesWith("canary", 10, false))
	o := options{Flags: opstest.Flags(t), mount: "/shop", goRoutes: true,
		migrate: migration.Flags{Stages: stages, AdminBind: "127.0.0.1:0"}}
	app, cat := startShopApp(t, o, log)
	srv, admin, _ := opstest.ServeStaged(t, app, newHandler(app, cat, o, log, nil), stages, log)

	// sides sends two requests for each of users users (the uid cookie
	// user-N, or none) and returns the side of each, "both" for a user
	// answered by both, on which it fails t when strict.
	sides := func(t *testing.T, users int, cookie, strict bool) []string {
		t.Helper()
		out := make([]string, users)
		var wg sync.WaitGroup
		sem := make(chan struct{}, 8)
		var mu sync.Mutex
		var errs []string
		for i := range users {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				for j := range 2 {
					req, _ := http.NewRequest("GET", fmt.Sprintf("%s/shop/api/products/%d", srv.URL, 1+j), nil)
					if cookie {
						req.Header.Set("Cookie", fmt.Sprintf("uid=user-%d", i))
					}
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						mu.Lock()
						errs = append(errs, err.Error())
						mu.Unlock()
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					side := resp.Header.Get("X-Served-By")
					mu.Lock()
					switch {
					case resp.StatusCode != 200 || side == "":
						errs = append(errs, fmt.Sprintf("user-%d: %d, X-Served-By %q", i, resp.StatusCode, side))
					case out[i] == "":
						out[i] = side
					case out[i] != side && strict:
						errs = append(errs, fmt.Sprintf("user-%d: %s, then %s", i, out[i], side))
					case out[i] != side:
						out[i] = "both"
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(errs) > 0 {
			t.Fatalf("%d errors, the first: %s", len(errs), errs[0])
		}
		return out
	}
	share := func(s []string) float64 {
		n := 0
		for _, v := range s {
			if v == "go" {
				n++
			}
		}
		return 100 * float64(n) / float64(len(s))
	}
	waitPercent := func(pct float64) {
		t.Helper()
		opstest.WaitFor(t, fmt.Sprintf("the canary at %v%%", pct), func() bool {
			st := opstest.RouteStatus(t, admin, productRoute)
			return st.Stage == migrate.StageCanary && st.Percent == pct
		})
	}

	t.Run("canary raised in the stages file", func(t *testing.T) {
		const users = 1000
		var before []string
		for _, pct := range []float64{10, 20, 50} {
			if pct != 10 {
				writeStages(t, stages, stagesWith("canary", pct, false))
			}
			waitPercent(pct)
			now := sides(t, users, true, true)
			if got := share(now); got < pct-5 || got > pct+5 {
				t.Errorf("at %v%%, %.1f%% of %d users on Go", pct, got, users)
			}
			for i, s := range before {
				if s == "go" && now[i] != "go" {
					t.Errorf("raised to %v%%: user-%d went back from Go to %s", pct, i, now[i])
				}
			}
			before = now
		}
		// Without the cookie, the client's address is the key: every
		// request of this test's one address is on one side.
		anon := sides(t, 20, false, true)
		for _, s := range anon {
			if s != anon[0] {
				t.Errorf("anonymous requests from one address went to both sides: %v", anon)
				break
			}
		}
	})

	// A route at 100% Go, so that each switch shows.
	writeStages(t, stages, stagesWith("canary", 100, false))
	waitPercent(100)

	// switched waits until every answer comes from side.
	switched := func(t *testing.T, side string) {
		t.Helper()
		opstest.WaitFor(t, "answers from "+side, func() bool {
			s := sides(t, 20, true, false)
			return share(s) == map[string]float64{"go": 100, "python": 0}[side]
		})
	}

	t.Run("kill switches under load", func(t *testing.T) {
		api := func(body string) {
			t.Helper()
			if r := do(t, nil, "POST", admin+"/force-python", "application/json", body); r.status != 200 {
				t.Fatalf("POST /force-python %s: %d %q", body, r.status, r.body)
			}
		}
		jar, _ := cookiejar.New(nil)
		browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		console := func(form url.Values) {
			t.Helper()
			page := do(t, browser, "GET", admin+"/", "", "")
			m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page.body)
			if m == nil {
				t.Fatalf("no CSRF token on the console: %d %q", page.status, page.body)
			}
			form.Set("csrf", m[1])
			req, _ := http.NewRequest("POST", admin+"/console/kill", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", admin)
			resp, err := browser.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("POST console/kill %v: %d %q", form, resp.StatusCode, b)
			}
		}
		for _, tc := range []struct {
			name    string
			on, off func()
		}{
			{"the route's switch from the admin API",
				func() { api(fmt.Sprintf(`{"route": %q, "on": true}`, productRoute)) },
				func() { api(fmt.Sprintf(`{"route": %q, "on": false}`, productRoute)) }},
			{"the global switch from the admin API",
				func() { api(`{"all": true, "on": true}`) }, func() { api(`{"all": true, "on": false}`) }},
			{"the route's switch from the console",
				func() { console(url.Values{"route": {productRoute}, "on": {"1"}}) },
				func() { console(url.Values{"route": {productRoute}, "on": {"0"}}) }},
			{"the global switch from the console",
				func() { console(url.Values{"all": {"1"}, "on": {"1"}}) }, func() { console(url.Values{"all": {"1"}, "on": {"0"}}) }},
			{"the global switch in the stages file",
				func() { writeStages(t, stages, stagesWith("canary", 100, true)) },
				func() { writeStages(t, stages, stagesWith("canary", 100, false)) }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				l := startLoad(t, srv.URL)
				tc.on()
				switched(t, "python")
				tc.off()
				switched(t, "go")
				l.end(t, tc.name)
			})
		}
	})

	t.Run("broken stages files under load", func(t *testing.T) {
		l := startLoad(t, srv.URL)
		for _, tc := range []struct{ name, content, want string }{
			{"a syntax error", `{"routes": [{"route": "GET /shop/api/products/{id:[0-9]+}", "stage": "python",}]}`, "invalid character"},
			{"an unknown route", `{"routes": [{"route": "GET /shop/api/product/{id}", "stage": "python"}]}`, `unknown route "GET /shop/api/product/{id}" (no Go route has this method and pattern; did you mean "GET /shop/api/products/{id:[0-9]+}"? The pattern differs by a letter or two)`},
			{"a percentage over 100", stagesWith("canary", 150, false), "percent 150 is not between 0 and 100"},
			{"a percentage as a string", strings.Replace(stagesWith("canary", 5, false), `"percent": 5`, `"percent": "5"`, 1), `"percent" must be a number, not a string`},
			{"an empty file", "", "the file is empty"},
		} {
			writeStages(t, stages, tc.content)
			var errText string
			opstest.WaitFor(t, fmt.Sprintf("GET /stages-file to say %q (of %s)", tc.want, tc.name), func() bool {
				var applied bool
				applied, errText = stagesFileState(t, admin)
				return !applied && strings.Contains(errText, tc.want)
			})
			if !strings.Contains(errText, "stages file line 1: ") {
				t.Errorf("%s: GET /stages-file says %q, without its line", tc.name, errText)
			}
			if s := sides(t, 20, true, true); share(s) != 100 {
				t.Errorf("%s: %.0f%% on Go, want the old stages (100%%) to keep serving", tc.name, share(s))
			}
			if page := do(t, nil, "GET", admin+"/", "", ""); !strings.Contains(page.body, `id="file-error"`) {
				t.Errorf("%s: the console does not say the file is not applied", tc.name)
			}
		}
		// A good file takes effect.
		writeStages(t, stages, stagesWith("python", 100, false))
		opstest.WaitFor(t, "the good file", func() bool {
			applied, _ := stagesFileState(t, admin)
			return applied
		})
		switched(t, "python")
		l.end(t, "the broken stages files")
	})
}
