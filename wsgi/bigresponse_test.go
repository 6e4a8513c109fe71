package wsgi

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// TestBigResponseBytes: response bodies of every chunking arrive intact,
// byte for byte, through DATA frames that the worker cuts to the response
// window, sends with their header gathered (large chunks) or copied behind
// it (small ones), and that Go's reader joins when one read brings several
// (recycling their buffers). With two threads, concurrent responses of one
// worker interleave on its socket.
func TestBigResponseBytes(t *testing.T) {
	sizes := []string{
		"1,2,3",
		"16383,16384,16385,1,65536,65537",
		"300000,1,2000000,7,262144,262145",
		strings.TrimSuffix(strings.Repeat("1000,", 200), ","),
		"3000000",
	}
	for _, cfg := range []Config{
		{ResponseBuffer: 64 << 10},
		{},
		{Threads: 2, ResponseBuffer: 100 << 10},
	} {
		t.Run(fmt.Sprintf("threads=%d,window=%d", cfg.Threads, cfg.ResponseBuffer), func(t *testing.T) {
			a := startApp(t, "pattern", cfg, nil)
			var wg sync.WaitGroup
			for i, sz := range sizes {
				for _, how := range []string{"gen", "write", "list"} {
					types := "b"
					if how == "write" {
						types = "bam"
					}
					url := fmt.Sprintf("%s/?sizes=%s&how=%s&types=%s&cl=%d", a.srv.URL, sz, how, types, i%2)
					check := func() {
						resp, err := http.Get(url) // not get: this may run in another goroutine
						if err != nil {
							t.Errorf("%s: %v", url, err)
							return
						}
						body, err := io.ReadAll(resp.Body)
						resp.Body.Close()
						if err != nil {
							t.Errorf("%s: reading the body: %v", url, err)
							return
						}
						want := 0
						for _, f := range strings.Split(sz, ",") {
							n, _ := strconv.Atoi(f)
							want += n
						}
						if resp.StatusCode != http.StatusOK || len(body) != want {
							t.Errorf("sizes %s, %s: status %d, %d bytes, want 200 and %d", sz, how, resp.StatusCode, len(body), want)
							return
						}
						for j, c := range body {
							if c != byte(j%251) {
								t.Errorf("sizes %s, %s: byte %d is %d, want %d", sz, how, j, c, j%251)
								return
							}
						}
					}
					if cfg.Threads > 1 {
						wg.Add(1)
						go func() { defer wg.Done(); check() }()
					} else {
						check()
					}
				}
			}
			wg.Wait()
		})
	}
}

// TestWorkerSendBuffer: a worker's end of its socket has a send buffer
// larger than the system's default (workerSendBuffer, capped by the
// kernel), so that a big response's frames seldom wait for Go to read.
// The worker reports its socket's SO_SNDBUF itself.
func TestWorkerSendBuffer(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the defaults compared with are Linux's") // the suite's CI runs Linux
	}
	def, err := os.ReadFile("/proc/sys/net/core/wmem_default")
	if err != nil {
		t.Fatal(err)
	}
	dflt, err := strconv.Atoi(strings.TrimSpace(string(def)))
	if err != nil {
		t.Fatal(err)
	}
	c, _ := newContainer(t, Config{App: "apps:sndbuf", NoPreload: true})
	w := httptest.NewRecorder()
	c.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	got, err := strconv.Atoi(w.Body.String())
	if err != nil {
		t.Fatalf("the app answered %q", w.Body)
	}
	if got <= dflt {
		t.Errorf("the worker's send buffer is %d bytes, the system's default %d: SO_SNDBUF was not set", got, dflt)
	}
}
