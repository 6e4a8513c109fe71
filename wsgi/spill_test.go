package wsgi

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/graft-dev/graft/internal/pythontest"
	"github.com/graft-dev/graft/internal/slowclient"
)

// TestResponseSpill: a client that reads a big response slowly, or not at
// all for a while, neither holds the worker (with one thread, the next
// request is served by the same worker at once) nor, with two threads,
// delays the worker's other responses: what the client has not taken goes
// to a file, not to Go's heap. Reading later, the client gets the whole
// body, byte for byte.
func TestResponseSpill(t *testing.T) {
	var sizes []string
	total := 0
	for i := range 60 { // about 20 MiB
		n := []int{1 << 20, 70000, 1, 300000}[i%4]
		sizes = append(sizes, strconv.Itoa(n))
		total += n
	}
	for _, threads := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d threads", threads), func(t *testing.T) {
			a := startApp(t, "dispatch", Config{Threads: threads, Timeout: time.Minute}, nil)
			pid := pidOf(t, a.srv.URL+"/pid")
			runtime.GC()
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			conn := dialSmallWindow(t, a.srv.URL)
			fmt.Fprintf(conn, "GET /pattern?cl=1&sizes=%s HTTP/1.1\r\nHost: x\r\n\r\n", strings.Join(sizes, ","))
			// The response spills (the client reads nothing); a fixed sleep
			// here was too short on a loaded machine.
			waitFor(t, 20*time.Second, "the response to spill", func() bool { return a.c.Status().SpillFiles == 1 })
			// The worker is not held by the client: a request gets it (a
			// worker held until the client reads would never answer it).
			client := &http.Client{Timeout: 10 * time.Second}
			resp, b, err := get(t, client, "GET", a.srv.URL+"/pid", nil)
			if err != nil || resp.StatusCode != 200 || string(b) != strconv.Itoa(pid) {
				t.Fatalf("the next request: %v %d %s (want worker %d)", err, resp.StatusCode, b, pid)
			}
			// The status and the metrics count it.
			if st := a.c.Status(); st.SpilledResponses != 1 || st.SpilledBytes <= 0 || st.SpillFiles != 1 {
				t.Errorf("status: %d spilled responses, %d bytes, %d files; want 1, some, 1",
					st.SpilledResponses, st.SpilledBytes, st.SpillFiles)
			}
			reg := prometheus.NewRegistry()
			reg.MustRegister(a.c)
			if got := gauge(t, reg, "graft_wsgi_spill_files"); got != 1 {
				t.Errorf("graft_wsgi_spill_files = %v, want 1", got)
			}
			runtime.GC()
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 8<<20 {
				t.Errorf("the Go heap grew by %d bytes while %d waited for the client", grew, total)
			}
			// The client reads it all now.
			conn.SetReadDeadline(time.Now().Add(20 * time.Second))
			r, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(r.Body)
			if err != nil || len(body) != total {
				t.Fatalf("read %d of %d bytes: %v", len(body), total, err)
			}
			for i, c := range body {
				if c != byte(i%251) {
					t.Fatalf("byte %d is %d, want %d", i, c, i%251)
				}
			}
			waitFor(t, 5*time.Second, "no spill file open", func() bool { return a.c.Status().SpillFiles == 0 })
			if st := a.c.Status(); st.SpilledBytes > int64(total) {
				t.Errorf("%d bytes spilled of a %d-byte response", st.SpilledBytes, total)
			}
		})
	}
}

// gauge returns the value of the metric name (without labels) in reg.
func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			m := mf.GetMetric()[0]
			if g := m.GetGauge(); g != nil {
				return g.GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// dialSmallWindow connects to a test server with a small receive buffer:
// a client that is slow to read (it reads when the test says).
func dialSmallWindow(t *testing.T, url string) net.Conn {
	t.Helper()
	return slowclient.Dial(t, strings.TrimPrefix(url, "http://"))
}

// TestSpill: the spill's order and bounds, on a stream without a worker.
// Parts that find the buffer full wait spillAfter, then go to the file;
// the request's goroutine gets the buffered parts, then the spilled bytes
// in order, then the end. A spill that would pass ResponseSpill makes the
// reader wait until the file has been read to its end, then the buffer
// takes the parts again. The request's goroutine leaving closes the file.
func TestSpill(t *testing.T) {
	const window = 100
	newStream := func(t *testing.T, limit int64) (*stream, *proc) {
		// reading: the token is someone else's, so that Next waits for
		// parts instead of reading a socket this proc does not have.
		pr := &proc{cut: make(chan struct{}), fc: &frameConn{}, log: slog.New(slog.DiscardHandler), reading: true,
			pool: &pool{cfg: Config{ResponseBuffer: window, ResponseSpill: limit, TempDir: t.TempDir()}}}
		s := (&pool{}).newStream("GET", "/", "id", requestParts)
		s.proc.Store(pr)
		return s, pr
	}
	data := func(from, n int) Part {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(from + i)
		}
		return Part{Kind: PartData, Data: b}
	}
	// read takes parts until the end and returns the body and the end.
	read := func(t *testing.T, s *stream) ([]byte, Part) {
		var body []byte
		for {
			p, err := s.Next(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if p.Kind == PartEnd {
				return body, p
			}
			body = append(body, p.Data...)
			p.release()
		}
	}
	t.Run("order", func(t *testing.T) {
		s, pr := newStream(t, 1<<20)
		start := time.Now()
		pos := 0
		for range 10 { // 60 bytes a part: the second one already waits
			if !s.push(data(pos, 60), pr) {
				t.Fatal("push failed")
			}
			pos += 60
		}
		if took := time.Since(start); took < spillAfter || took > spillAfter+time.Second {
			t.Errorf("10 parts took %v: want one wait of spillAfter (%v), then the file", took, spillAfter)
		}
		if s.spill.Load() == nil {
			t.Fatal("no spill")
		}
		s.finish(Part{Kind: PartEnd}, pr)
		body, end := read(t, s)
		if end.Err != nil || len(body) != pos {
			t.Fatalf("got %d bytes and %v, want %d bytes and a clean end", len(body), end.Err, pos)
		}
		for i, c := range body {
			if c != byte(i) {
				t.Fatalf("byte %d is %d", i, c)
			}
		}
		if sp := s.spill.Load(); !sp.closed || sp.f != nil {
			t.Error("the spill file is still open after the end")
		}
	})
	t.Run("parts", func(t *testing.T) {
		// Early hints fill the buffer: the head waits, and spills, then
		// the body and the end follow it there, in order.
		s, pr := newStream(t, 1<<20)
		for range requestParts {
			s.push(Part{Kind: PartHints, Header: []string{"Link", "</a.css>"}}, pr)
		}
		s.push(Part{Kind: PartHead, Status: "200 OK"}, pr)
		s.push(data(0, 60), pr)
		s.push(data(60, 60), pr)
		s.finish(Part{Kind: PartEnd}, pr)
		var kinds []PartKind
		var body []byte
		for {
			p, err := s.Next(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if n := len(kinds); p.Kind != PartData || n == 0 || kinds[n-1] != PartData {
				kinds = append(kinds, p.Kind) // a run of data counts once
			}
			body = append(body, p.Data...)
			if p.Kind == PartEnd {
				break
			}
		}
		want := []PartKind{PartHints, PartHints, PartHints, PartHints, PartHead, PartData, PartEnd}
		if !slices.Equal(kinds, want) || len(body) != 120 {
			t.Errorf("parts %v and %d bytes, want %v and 120 bytes", kinds, len(body), want)
		}
	})
	t.Run("limit", func(t *testing.T) {
		s, pr := newStream(t, 150) // two parts of 60, not three
		for i := range 4 {         // one in the buffer, two spilled, then full
			if i < 3 && !s.push(data(i*60, 60), pr) {
				t.Fatal("push failed")
			}
		}
		sp := s.spill.Load()
		if sp == nil || sp.size != 120 {
			t.Fatalf("spill %+v: want 120 bytes", sp)
		}
		// The reader: one part past the limit, then the end.
		pushed, read2 := make(chan bool, 1), make(chan struct{})
		go func() {
			pushed <- s.push(data(180, 60), pr)
			<-read2
			s.finish(Part{Kind: PartEnd}, pr)
		}()
		time.Sleep(3 * spillAfter)
		select {
		case <-pushed:
			t.Fatal("a part went past ResponseSpill")
		default:
		}
		close(read2)
		body, end := read(t, s)
		if ok := <-pushed; !ok || end.Err != nil || len(body) != 240 {
			t.Fatalf("push %v, %d bytes, %v: want the 240 bytes and a clean end", ok, len(body), end.Err)
		}
		for i, c := range body {
			if c != byte(i) {
				t.Fatalf("byte %d is %d", i, c)
			}
		}
	})
	t.Run("file fails", func(t *testing.T) {
		s, pr := newStream(t, 1<<20)
		var logs pythontest.Buffer
		pr.log = slog.New(slog.NewTextHandler(&logs, nil))
		pr.pool.cfg.TempDir = filepath.Join(t.TempDir(), "missing")
		s.push(data(0, 60), pr)
		pushed := make(chan bool, 1)
		go func() {
			for i := 1; i < 4; i++ { // each waits for the client: no file
				if !s.push(data(i*60, 60), pr) {
					pushed <- false
					return
				}
			}
			s.finish(Part{Kind: PartEnd}, pr)
			pushed <- true
		}()
		time.Sleep(3 * spillAfter)
		select {
		case <-pushed:
			t.Fatal("the parts went on without a file or the client")
		default:
		}
		body, end := read(t, s)
		if !<-pushed || end.Err != nil || len(body) != 240 {
			t.Fatalf("%d bytes, %v: want the 240 bytes and a clean end", len(body), end.Err)
		}
		if n := strings.Count(logs.String(), "cannot spill"); n != 1 {
			t.Errorf("%d errors logged for one response whose file failed; want 1:\n%s", n, logs.String())
		}
	})
	t.Run("send timeout", func(t *testing.T) {
		// Long enough that reading four parts from the spill never takes
		// it, even on a loaded machine under -race (50 ms did, in CI).
		const timeout = 300 * time.Millisecond
		// A client that caught up waits for a slow app: not given up.
		s, pr := newStream(t, 1<<20)
		pr.pool.cfg.SendTimeout = timeout
		for i := range 4 {
			s.push(data(i*60, 60), pr)
		}
		if s.spill.Load() == nil {
			t.Fatal("no spill")
		}
		var body []byte
		for len(body) < 240 {
			p, err := s.Next(context.Background())
			if err != nil || p.Kind != PartData {
				t.Fatalf("part %v, %v", p.Kind, err)
			}
			body = append(body, p.Data...)
		}
		time.Sleep(3 * timeout)
		s.push(data(240, 60), pr)
		s.finish(Part{Kind: PartEnd}, pr)
		rest, end := read(t, s)
		if end.Err != nil || len(body)+len(rest) != 300 {
			t.Errorf("%d bytes, %v: want 300 and a clean end", len(body)+len(rest), end.Err)
		}
		// A client that takes nothing while some waits for it: given up.
		s, pr = newStream(t, 1<<20)
		pr.pool.cfg.SendTimeout = timeout
		for i := range 4 {
			s.push(data(i*60, 60), pr)
		}
		time.Sleep(3 * timeout)
		sp := s.spill.Load()
		sp.mu.Lock()
		closed := sp.closed
		sp.mu.Unlock()
		if !closed {
			t.Fatal("the spill of a client that took nothing is still open")
		}
		if s.push(data(240, 60), pr) {
			t.Error("a part was taken for a client given up")
		}
		_, end = read(t, s)
		if !errors.Is(end.Err, ErrClientStalled) {
			t.Errorf("the response ended with %v, want ErrClientStalled", end.Err)
		}
	})
	t.Run("leave", func(t *testing.T) {
		s, pr := newStream(t, 1<<20)
		for i := range 3 {
			s.push(data(i*60, 60), pr)
		}
		sp := s.spill.Load()
		if sp == nil || sp.f == nil {
			t.Fatal("no spill file")
		}
		f := sp.f
		s.Complete() // the request's goroutine leaves (as with Cancel, which also tells the worker)
		if _, err := f.Stat(); err == nil {
			t.Error("the spill file is open after the request's goroutine left")
		}
		if s.push(data(180, 60), pr) {
			t.Error("a part was taken after the request's goroutine left")
		}
	})
}

// TestSendTimeout: a client that takes none of a spilled response for
// SendTimeout is given up: the spill file is closed (none is left open),
// and once the client reads, its connection ends before the response's
// end; the worker serves on.
func TestSendTimeout(t *testing.T) {
	a := startApp(t, "dispatch", Config{SendTimeout: 500 * time.Millisecond, Timeout: time.Minute}, nil)
	conn := dialSmallWindow(t, a.srv.URL)
	fmt.Fprintf(conn, "GET /download?mib=32 HTTP/1.1\r\nHost: x\r\n\r\n")
	waitFor(t, 3*time.Second, "a spill file", func() bool { return spillFiles(t) > 0 })
	logHas(t, a.logs, 5*time.Second, "took none of the response for SendTimeout", "graft.send_timeout=500ms")
	waitFor(t, 5*time.Second, "the spill file to be closed", func() bool { return spillFiles(t) == 0 })
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := io.Copy(io.Discard, conn)
	if err != nil || n >= 32<<20 {
		t.Errorf("the client read %d bytes (%v): want the connection closed before the end", n, err)
	}
	resp, b, err := get(t, nil, "GET", a.srv.URL+"/hello", nil)
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("after the timeout: %v %d %s", err, resp.StatusCode, b)
	}
}

// spillFiles counts this process's open spill files (0 where /proc is
// not there to say).
func spillFiles(t *testing.T) int {
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0
	}
	n := 0
	for _, fd := range fds {
		if target, err := os.Readlink("/proc/self/fd/" + fd.Name()); err == nil && strings.Contains(target, "graft-response") {
			n++
		}
	}
	return n
}
