package wsgi

import (
	"io"
	"net/http"
	"sync"
	"testing"
)

// TestPrefetchedRequestsSurviveWorkerDeath sends quick requests right
// behind one that kills its worker. Requests prefetched into the dying
// worker's socket never started, so they must be retried on its
// replacement: only the killing request may fail.
func TestPrefetchedRequestsSurviveWorkerDeath(t *testing.T) {
	for _, noPreload := range []bool{false, true} {
		name := map[bool]string{false: "preload", true: "nopreload"}[noPreload]
		t.Run(name, func(t *testing.T) {
			c, _ := newContainer(t, Config{App: "prefetchapp:app", Workers: 1, NoPreload: noPreload})
			srv := newServer(t, c)
			// Warm up so the worker counts as fast.
			for range 5 {
				if code, _ := getCode(t, srv.URL+"/ok"); code != 200 {
					t.Fatalf("warm-up: %d", code)
				}
			}
			var wg sync.WaitGroup
			codes := make([]int, 6)
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes[0], _ = getCode(t, srv.URL+"/die")
			}()
			for i := 1; i < len(codes); i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					codes[i], _ = getCode(t, srv.URL+"/ok")
				}()
			}
			wg.Wait()
			if codes[0] != http.StatusBadGateway {
				t.Errorf("/die: %d, want 502", codes[0])
			}
			for i, code := range codes[1:] {
				if code != http.StatusOK {
					t.Errorf("request %d behind the dying one: %d, want 200", i+1, code)
				}
			}
		})
	}
}

func getCode(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Errorf("GET %s: %v", url, err)
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
