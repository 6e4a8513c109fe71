package wsgi

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// vmRSS reads VmRSS of /proc/<pid>/status in bytes ("self" for Go).
func vmRSS(pid string) int64 {
	f, err := os.Open("/proc/" + pid + "/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// rssWatch samples the peak RSS of the Go process and of a worker.
type rssWatch struct {
	pid           string
	baseGo, baseW int64
	peakGo, peakW int64
	stop          chan struct{}
	wg            sync.WaitGroup
}

func watchRSS(workerPID int) *rssWatch {
	runtime.GC()
	debug.FreeOSMemory()
	w := &rssWatch{pid: strconv.Itoa(workerPID), stop: make(chan struct{})}
	w.baseGo, w.baseW = vmRSS("self"), vmRSS(w.pid)
	w.peakGo, w.peakW = w.baseGo, w.baseW
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		tk := time.NewTicker(5 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-tk.C:
				w.peakGo = max(w.peakGo, vmRSS("self"))
				w.peakW = max(w.peakW, vmRSS(w.pid))
			}
		}
	}()
	return w
}

func (w *rssWatch) check(t *testing.T, limit int64) {
	t.Helper()
	close(w.stop)
	w.wg.Wait()
	gGo, gW := w.peakGo-w.baseGo, w.peakW-w.baseW
	t.Logf("RSS growth: Go %.1f MiB, worker %.1f MiB", float64(gGo)/(1<<20), float64(gW)/(1<<20))
	goLimit := limit
	if raceEnabled {
		// The race detector's shadow memory for reused heap makes Go's RSS
		// meaningless here; the worker's is still checked.
		goLimit = 1 << 62
	}
	if gGo > goLimit {
		t.Errorf("Go RSS grew by %d MiB, want < %d MiB", gGo>>20, goLimit>>20)
	}
	if gW > limit {
		t.Errorf("worker RSS grew by %d MiB, want < %d MiB", gW>>20, limit>>20)
	}
}

// patternReader produces n bytes without holding them.
type patternReader struct{ n int64 }

func (r *patternReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.n {
		p = p[:r.n]
	}
	for i := range p {
		p[i] = byte(i)
	}
	r.n -= int64(len(p))
	return len(p), nil
}

const bigSize = 128 << 20
const rssLimit = 32 << 20

// TestMemoryUpload streams a 128 MiB upload, with a Content-Length and
// chunked: neither Go nor the worker may hold it in memory.
func TestMemoryUpload(t *testing.T) {
	a := startApp(t, "dispatch", Config{}, nil)
	pid := pidOf(t, a.srv.URL+"/pid")
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprint("chunked=", chunked), func(t *testing.T) {
			w := watchRSS(pid)
			_, b := post(t, a.srv.URL+"/body?mode=hash", &patternReader{n: bigSize}, bodyLength(bigSize, chunked))
			w.check(t, rssLimit)
			if !strings.Contains(string(b), fmt.Sprintf(`"len": %d`, bigSize)) {
				t.Errorf("app saw %s", b)
			}
		})
	}
}

// TestMemoryDownload streams a 128 MiB response in 1 MiB chunks to a
// client that reads slowly at first.
func TestMemoryDownload(t *testing.T) {
	a := startApp(t, "dispatch", Config{}, nil)
	pid := pidOf(t, a.srv.URL+"/pid")
	w := watchRSS(pid)
	resp, err := http.Get(a.srv.URL + fmt.Sprintf("/download?mib=%d", bigSize>>20))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 64<<10)
	var n int64
	for n < 8<<20 { // slowly
		m, err := resp.Body.Read(buf)
		n += int64(m)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	m, err := io.CopyBuffer(io.Discard, resp.Body, buf)
	n += m
	if err != nil || n != bigSize {
		t.Fatalf("read %d bytes (%v), want %d", n, err, bigSize)
	}
	w.check(t, rssLimit)
}

// heapWatch samples the peak of Go's heap (live and not yet collected
// objects). Unlike RSS it means something under the race detector too. The
// GC runs at 10% growth meanwhile, so that garbage does not hide a leak.
type heapWatch struct {
	base, peak uint64
	gcPercent  int
	stop       chan struct{}
	wg         sync.WaitGroup
}

func heapObjects() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func watchHeap() *heapWatch {
	h := &heapWatch{gcPercent: debug.SetGCPercent(10), stop: make(chan struct{})}
	runtime.GC()
	h.base = heapObjects()
	h.peak = h.base
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		tk := time.NewTicker(time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-h.stop:
				return
			case <-tk.C:
				h.peak = max(h.peak, heapObjects())
			}
		}
	}()
	return h
}

// check fails t if the heap grew by more than limit bytes.
func (h *heapWatch) check(t *testing.T, limit uint64) {
	t.Helper()
	close(h.stop)
	h.wg.Wait()
	debug.SetGCPercent(h.gcPercent)
	growth := h.peak - h.base
	t.Logf("Go heap growth: %.1f MiB", float64(growth)/(1<<20))
	if growth > limit {
		t.Errorf("Go heap grew by %.1f MiB, want < %d MiB", float64(growth)/(1<<20), limit>>20)
	}
}

// TestMemoryOneChunk: a 200 MiB response in a single chunk (a list of one
// bytes, a generator of one, one write() call) streams through Go in
// window-sized frames: Go's memory grows by a few MiB, not by the body.
func TestMemoryOneChunk(t *testing.T) {
	const mib = 200
	a := startApp(t, "dispatch", Config{}, nil)
	for _, how := range []string{"list", "gen", "write"} {
		t.Run(how, func(t *testing.T) {
			heap := watchHeap()
			rss := watchRSS(os.Getpid()) // Go only: the worker holds the app's body
			resp, err := http.Get(a.srv.URL + fmt.Sprintf("/onechunk?mib=%d&how=%s", mib, how))
			if err != nil {
				t.Fatal(err)
			}
			n, err := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err != nil || n != mib<<20 {
				t.Fatalf("read %d bytes (%v), want %d", n, err, mib<<20)
			}
			if how == "list" && resp.ContentLength != mib<<20 {
				t.Errorf("Content-Length %d, want %d (the length of a list is known)", resp.ContentLength, mib<<20)
			}
			heap.check(t, 8<<20)
			close(rss.stop)
			rss.wg.Wait()
			g := rss.peakGo - rss.baseGo
			t.Logf("Go RSS growth: %.1f MiB", float64(g)/(1<<20))
			if !raceEnabled && g > 16<<20 {
				t.Errorf("Go RSS grew by %.1f MiB, want < 16 MiB", float64(g)/(1<<20))
			}
		})
	}
}
