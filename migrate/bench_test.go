package migrate

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/graft-dev/graft/router"
)

// BenchmarkShadowClientLatency measures what a client waits for a route
// served by real Flask with shadowing off (stage python) and at 100%
// (stage shadow: the Go candidate runs and is compared in the
// background), with noise learning at the default rate and off.
// ns/op is the client's latency, one request at a time.
func BenchmarkShadowClientLatency(b *testing.B) {
	py := startPython(b, "flaskmig:app")
	for _, bc := range []struct {
		name  string
		stage Stage
		noise float64
	}{
		{"off", StagePython, 0},
		{"shadow100", StageShadow, 0},
		{"shadow100-nonoise", StageShadow, -1},
	} {
		b.Run(bc.name, func(b *testing.B) {
			e := newEnv(b, py, Options{NoiseSample: bc.noise, Routes: []RouteConfig{{Route: "GET /api/order/{id}", Stage: bc.stage}}}, func(r *router.Router) {
				r.Get("/api/order/{id}", func(w http.ResponseWriter, r *http.Request) {
					writeJSONBody(w, fmt.Sprintf(`{"name":"Ada","id":%s,"score":1,"tags":["a","b"],"active":true}`, chi.URLParam(r, "id")))
				})
			})
			client := &http.Client{}
			url := e.srv.URL + "/api/order/7"
			get := func() {
				res, err := client.Get(url)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != 200 {
					b.Fatalf("status %d", res.StatusCode)
				}
			}
			for i := 0; i < 50; i++ { // warm up
				get()
			}
			e.settle()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				get()
			}
			b.StopTimer()
			e.settle()
			st := e.status(b, "GET /api/order/{id}")
			if bc.stage == StageShadow && st.Counts.Mismatched != 0 {
				b.Fatalf("mismatches: %v", st.MismatchPointers)
			}
			b.ReportMetric(float64(st.Counts.Compared), "compared")
		})
	}
}

// BenchmarkGoRouteOverhead measures what a Migrator adds to a Go route
// in stage go (no configuration), in process, against the same router
// without one.
func BenchmarkGoRouteOverhead(b *testing.B) {
	for _, withMigrator := range []bool{false, true} {
		name := "router"
		if withMigrator {
			name = "router+migrator"
		}
		b.Run(name, func(b *testing.B) {
			r := router.New()
			r.Get("/api/users/{id}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
			r.Fallback(http.NotFoundHandler())
			if withMigrator {
				if _, err := New(r, Options{Registerer: prometheus.NewRegistry(), Logger: discardLogger()}); err != nil {
					b.Fatal(err)
				}
			}
			req := httptest.NewRequest("GET", "/api/users/1", nil)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				w := httptest.NewRecorder()
				for pb.Next() {
					r.ServeHTTP(w, req)
				}
			})
		})
	}
}

// BenchmarkShadowInProcess measures, in process with a scripted Python
// side, the time ServeHTTP takes (what the client waits for) with
// shadowing off and at 100%; the comparison work runs after it, on other
// goroutines, and is waited for outside the timer every 64 requests.
func BenchmarkShadowInProcess(b *testing.B) {
	for _, stage := range []Stage{StagePython, StageShadow} {
		b.Run(string(stage), func(b *testing.B) {
			r, m, _ := pair(b,
				func(w http.ResponseWriter, r *http.Request) {
					writeJSONBody(w, `{"name":"Ada","id":7,"score":1,"tags":["a","b"],"active":true}`)
				},
				func(w http.ResponseWriter, r *http.Request) {
					writeJSONBody(w, `{"active": true, "id": 7, "name": "Ada", "score": 1.0, "tags": ["a", "b"]}`)
				},
				Options{MaxConcurrent: 128}, RouteConfig{Route: "GET /x", Stage: stage})
			req := httptest.NewRequest("GET", "/x", nil)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r.ServeHTTP(httptest.NewRecorder(), req)
				if i%64 == 63 {
					b.StopTimer()
					m.jobs.Wait()
					b.StartTimer()
				}
			}
			b.StopTimer()
			m.jobs.Wait()
			if st, _ := m.Route("GET /x"); st.Counts.Mismatched != 0 || st.Counts.Dropped != 0 {
				b.Fatalf("%+v", st.Counts)
			}
		})
	}
}

// BenchmarkShadowClientLatencyAB serves two routes backed by the same
// Flask view, one with shadowing off (stage python) and one at 100%
// (stage shadow), alternating blocks of 100 sequential requests so that
// both see the same machine load. It reports each side's mean client
// latency (off-us/req, shadow-us/req) and their ratio (shadow/off), with
// noise learning at its default rate and off.
func BenchmarkShadowClientLatencyAB(b *testing.B) {
	py := startPython(b, "flaskmig:app")
	b.Run("noise-off", func(b *testing.B) { benchAB(b, py, -1) })
	b.Run("noise-default", func(b *testing.B) { benchAB(b, py, 0) })
}

func benchAB(b *testing.B, py http.Handler, noise float64) {
	handler := func(w http.ResponseWriter, r *http.Request) {
		writeJSONBody(w, fmt.Sprintf(`{"name":"Ada","id":%s,"score":1,"tags":["a","b"],"active":true}`, chi.URLParam(r, "id")))
	}
	e := newEnv(b, py, Options{NoiseSample: noise, Routes: []RouteConfig{
		{Route: "GET /api/order/{id}", Stage: StagePython},
		{Route: "GET /api/order2/{id}", Stage: StageShadow},
	}}, func(r *router.Router) {
		r.Get("/api/order/{id}", handler)
		r.Get("/api/order2/{id}", handler)
	})
	client := &http.Client{}
	get := func(url string) {
		res, err := client.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	urls := [2]string{e.srv.URL + "/api/order/7", e.srv.URL + "/api/order2/7"}
	for i := 0; i < 100; i++ { // warm up, and let noise learning pass its first 20
		get(urls[0])
		get(urls[1])
	}
	e.settle()
	const block = 100
	var spent [2]time.Duration
	var n [2]int
	b.ResetTimer()
	for done := 0; done < b.N; {
		for side := 0; side < 2 && done < b.N; side++ {
			k := min(block, b.N-done)
			start := time.Now()
			for i := 0; i < k; i++ {
				get(urls[side])
			}
			spent[side] += time.Since(start)
			n[side] += k
			done += k
			b.StopTimer()
			e.settle()
			b.StartTimer()
		}
	}
	b.StopTimer()
	if n[0] > 0 && n[1] > 0 {
		off := float64(spent[0].Microseconds()) / float64(n[0])
		sh := float64(spent[1].Microseconds()) / float64(n[1])
		b.ReportMetric(off, "off-us/req")
		b.ReportMetric(sh, "shadow-us/req")
		b.ReportMetric(sh/off, "shadow/off")
	}
	st := e.status(b, "GET /api/order2/{id}")
	if st.Counts.Mismatched != 0 {
		b.Fatalf("mismatches: %v", st.MismatchPointers)
	}
	b.ReportMetric(float64(st.Counts.NoiseRuns)/float64(st.Counts.Compared), "noise-runs/compared")
}
