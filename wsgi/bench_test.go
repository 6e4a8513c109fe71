package wsgi

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// goCPU reports the Go process's own CPU time (user + system, from
// getrusage; the Python workers are other processes) per operation of the
// benchmark, as go-cpu-us/op: wall time (ns/op) hides how much CPU a
// request costs when the Go side and the workers share the cores. Call
// the returned function after the loop.
func goCPU(b *testing.B) (stop func()) {
	start := selfCPU()
	return func() {
		if n := b.N; n > 0 {
			b.ReportMetric(float64(selfCPU()-start)/float64(time.Microsecond)/float64(n), "go-cpu-us/op")
		}
	}
}

// selfCPU is the CPU time this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// workersCPU reports the CPU time (user + system) of c's worker
// processes per operation of the benchmark, as py-cpu-us/op: what a
// request costs the Python side. It reads /proc/PID/stat (in clock ticks
// of 10 ms: run the benchmark for seconds, -benchtime=3s or more), and
// reports nothing where there is no /proc or a worker was replaced. Call
// the returned function after the loop.
func workersCPU(b *testing.B, c *Container) (stop func()) {
	pids := func() []int {
		var p []int
		for _, w := range c.Status().Workers {
			p = append(p, w.PID)
		}
		return p
	}
	before := pids()
	start, ok := procCPU(before)
	return func() {
		n := b.N
		after := pids()
		end, ok2 := procCPU(after)
		if !ok || !ok2 || n <= 0 || !slices.Equal(before, after) {
			return
		}
		b.ReportMetric(float64(end-start)/float64(time.Microsecond)/float64(n), "py-cpu-us/op")
	}
}

// procCPU sums the CPU time of the processes pids, from /proc/PID/stat
// (utime and stime, in ticks of USER_HZ, 100 on Linux).
func procCPU(pids []int) (time.Duration, bool) {
	var sum time.Duration
	for _, pid := range pids {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return 0, false
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')') // the command may hold spaces
		if i < 0 {
			return 0, false
		}
		f := strings.Fields(s[i+1:]) // f[11], f[12]: utime and stime (fields 14, 15)
		if len(f) < 13 {
			return 0, false
		}
		ut, err1 := strconv.ParseInt(f[11], 10, 64)
		st, err2 := strconv.ParseInt(f[12], 10, 64)
		if err1 != nil || err2 != nil {
			return 0, false
		}
		sum += time.Duration(ut+st) * (time.Second / 100)
	}
	return sum, len(pids) > 0
}

// browserRequest is a typical browser GET with a dozen headers.
func browserRequest() *http.Request {
	r := httptest.NewRequest("GET", "/articles/2024/graft-and-wsgi?page=2&sort=date", nil)
	h := r.Header
	h.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36")
	h.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8")
	h.Set("Accept-Language", "en-US,en;q=0.9,fr;q=0.8")
	h.Set("Accept-Encoding", "gzip, deflate, br")
	h.Set("Cookie", "sessionid=abcdef0123456789; csrftoken=0123456789abcdef")
	h.Set("Referer", "https://example.com/articles/")
	h.Set("Sec-Fetch-Dest", "document")
	h.Set("Sec-Fetch-Mode", "navigate")
	h.Set("Sec-Fetch-Site", "same-origin")
	h.Set("Upgrade-Insecure-Requests", "1")
	h.Set("Cache-Control", "max-age=0")
	h.Set("Connection", "keep-alive")
	return r
}

func BenchmarkEnviron(b *testing.B) {
	r := browserRequest()
	buf := make([]byte, 0, 4096)
	pairs := make([]string, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		pairs = environ(pairs[:0], r, "", -1)
		buf, _ = appendEnv(buf[:0], pairs)
	}
}

func BenchmarkHello(b *testing.B) {
	b.Run("1 worker", func(b *testing.B) {
		c, _ := newContainer(b, Config{App: "apps:hello", Workers: 1})
		r := browserRequest()
		b.ReportAllocs()
		defer workersCPU(b, c)()
		defer goCPU(b)()
		for b.Loop() {
			w := httptest.NewRecorder()
			c.ServeHTTP(w, r)
			if w.Code != 200 {
				b.Fatalf("status %d: %s", w.Code, w.Body)
			}
		}
	})
	b.Run("2 workers parallel", func(b *testing.B) {
		c, _ := newContainer(b, Config{App: "apps:hello", Workers: 2})
		b.ReportAllocs()
		defer workersCPU(b, c)()
		defer goCPU(b)()
		b.RunParallel(func(pb *testing.PB) {
			r := browserRequest()
			for pb.Next() {
				w := httptest.NewRecorder()
				c.ServeHTTP(w, r)
				if w.Code != 200 {
					b.Errorf("status %d: %s", w.Code, w.Body)
					return
				}
			}
		})
	})
}

// discardWriter is a ResponseWriter (and Flusher) that drops the body:
// what a download costs the Go side without a client's socket.
type discardWriter struct {
	h    http.Header
	code int
	n    int64
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) WriteHeader(code int)        { d.code = code }
func (d *discardWriter) Write(p []byte) (int, error) { d.n += int64(len(p)); return len(p), nil }
func (d *discardWriter) Flush()                      {}

// BenchmarkDownload: a 10 MiB response yielded in 1 MiB chunks (cut by
// the worker into window-sized DATA frames), from one worker to a
// ResponseWriter that drops it: the bridge's body path, with its
// allocations (B/op) and the Go process's CPU per download.
func BenchmarkDownload(b *testing.B) {
	c, _ := newContainer(b, Config{App: "apps:download", Workers: 1})
	r := httptest.NewRequest("GET", "/?mib=10", nil)
	b.ReportAllocs()
	b.SetBytes(10 << 20)
	defer goCPU(b)()
	for b.Loop() {
		w := &discardWriter{h: http.Header{}}
		c.ServeHTTP(w, r)
		if w.code != 200 || w.n != 10<<20 {
			b.Fatalf("status %d, %d bytes", w.code, w.n)
		}
	}
}

// BenchmarkFileWrapper: a 10 MiB file returned with wsgi.file_wrapper,
// sent by Go (sendfile(2) on Linux) over a loopback TCP connection to a
// client that reads and drops it.
func BenchmarkFileWrapper(b *testing.B) {
	a := startApp(b, "filewrap", Config{Workers: 1}, nil)
	if err := os.WriteFile(filepath.Join(a.dir, "data.bin"), make([]byte, 10<<20), 0o644); err != nil {
		b.Fatal(err)
	}
	url := a.srv.URL + "/?file=data.bin"
	b.SetBytes(10 << 20)
	defer goCPU(b)()
	for b.Loop() {
		resp, err := http.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || n != 10<<20 {
			b.Fatalf("status %d, %d bytes, %v", resp.StatusCode, n, err)
		}
	}
}

// BenchmarkPrefetchDepth: the check a pick makes on a busy worker, with
// one request running and eight prefetched (the default depth).
func BenchmarkPrefetchDepth(b *testing.B) {
	p := &proc{streams: map[uint16]*stream{}}
	p.ewma.Store(int64(50 * time.Microsecond))
	now := time.Now()
	for id := uint16(1); id <= 9; id++ {
		s := &stream{id: id, start: now.Add(time.Hour)} // never old, however long the loop runs
		p.streams[id] = s
		p.sent = append(p.sent, s)
	}
	b.ReportAllocs()
	for b.Loop() {
		if p.prefetchDepth(DefaultPrefetch) != DefaultPrefetch {
			b.Fatal("no prefetch")
		}
	}
}
