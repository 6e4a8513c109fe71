package wsgi

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// exchangeRecorder wraps a Container's transport and keeps the exchanges
// Start returned, so that a test can tell which were reused.
type exchangeRecorder struct {
	Transport
	mu  sync.Mutex
	got []Exchange
}

func (er *exchangeRecorder) Start(ctx context.Context, req *Request) (Exchange, error) {
	ex, err := er.Transport.Start(ctx, req)
	if err == nil {
		er.mu.Lock()
		er.got = append(er.got, ex)
		er.mu.Unlock()
	}
	return ex, err
}

// last returns the exchange of the latest Start.
func (er *exchangeRecorder) last() Exchange {
	er.mu.Lock()
	defer er.mu.Unlock()
	return er.got[len(er.got)-1]
}

// recordExchanges puts an exchangeRecorder in front of c's transport.
func recordExchanges(c *Container) *exchangeRecorder {
	er := &exchangeRecorder{Transport: c.tr}
	c.tr = er
	return er
}

// serveBody serves path on c and returns the status and body.
func serveBody(ctx context.Context, c *Container, path string) (int, string) {
	w := httptest.NewRecorder()
	c.ServeHTTP(w, httptest.NewRequest("GET", path, nil).WithContext(ctx))
	return w.Code, w.Body.String()
}

// TestStreamReuse: the stream of a request that ended the ordinary way is
// used again for a later request; one that something else may still hold
// (the client left, the goroutine left once the client had the body, the
// slow-request log or the timeout fired) never is. Each case serves its
// request, then 40 ordinary ones, one at a time, each of which must get
// its own answer: in the first cases some stream must come back (recycled
// streams are kept in a sync.Pool, which may drop any one of them), in the
// others the first request's never may.
func TestStreamReuse(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cfg    Config
		path   string
		cancel time.Duration // the client leaves after this long; 0: never
		reused bool          // the stream may come back
	}{
		{name: "whole response", path: "/length?body=abc&how=tuple", reused: true},
		{name: "streamed response", path: "/length?body=abcdef&how=gen", reused: true},
		{name: "app error", path: "/raise_before", reused: true},
		{name: "slow-request log armed", cfg: Config{SlowRequest: 10 * time.Second}, path: "/length?body=abc&how=tuple", reused: true},
		{name: "client left", path: "/sleep?s=0.3", cancel: 50 * time.Millisecond},
		{name: "left once the client had the body", path: "/length?body=abcdef&cl=6&how=gen"},
		{name: "slow-request log", cfg: Config{SlowRequest: 50 * time.Millisecond}, path: "/sleep?s=0.5"},
		{name: "timed out", cfg: Config{Timeout: 200 * time.Millisecond}, path: "/sleep?s=5"},
		// The answer comes while the worker dumps its stacks, before it
		// is killed (stackDumpGrace after the timeout): the timeout has
		// the stream then.
		{name: "answered as it timed out", cfg: Config{Timeout: 200 * time.Millisecond}, path: "/sleep?s=0.5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.App = "apps:dispatch"
			c, _ := newContainer(t, cfg)
			er := recordExchanges(c)
			ctx := context.Background()
			if tc.cancel > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.cancel)
				defer cancel()
			}
			serveBody(ctx, c, tc.path)
			first := er.last()
			time.Sleep(time.Second) // the app is done with it, or killed
			seen := map[Exchange]bool{first: true}
			again := false
			for i := range 40 {
				want := fmt.Sprintf("r%d", i)
				code, body := serveBody(context.Background(), c, "/length?how=tuple&body="+want)
				if code != 200 || body != want {
					t.Fatalf("request %d: %d %q, want 200 %q", i, code, body, want)
				}
				ex := er.last()
				if ex == first && !tc.reused {
					t.Fatalf("request %d got the stream of the first request, which must not be reused", i)
				}
				again = again || seen[ex]
				seen[ex] = true
			}
			if tc.reused && !again {
				t.Errorf("no stream was reused in 41 requests")
			}
		})
	}
}

// TestStreamReuseUnderLoad: many clients at once, some leaving at random
// moments, on workers with two threads (responses out of order), for every
// way a response ends: every answer is the one for its own request.
func TestStreamReuseUnderLoad(t *testing.T) {
	c, _ := newContainer(t, Config{App: "apps:length", Workers: 2, Threads: 2})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(g), 1))
			for i := range 150 {
				want := fmt.Sprintf("g%dr%d", g, i)
				// A whole response, a streamed one, one with a known
				// length, and a streamed one with a Content-Length (its
				// goroutine leaves once the client has the body).
				how := [...]string{"tuple", "gen", "list", fmt.Sprintf("gen&cl=%d", len(want))}[i%4]
				r := httptest.NewRequest("GET", "/?how="+how+"&body="+want, nil)
				ctx, cancel := context.WithCancel(context.Background())
				if rnd.IntN(5) == 0 {
					time.AfterFunc(time.Duration(rnd.IntN(2000))*time.Microsecond, cancel)
				}
				w := httptest.NewRecorder()
				serveAborting(c, w, r.WithContext(ctx))
				left := ctx.Err() != nil
				cancel()
				if left {
					continue // it may have any answer, or none
				}
				body, _ := io.ReadAll(w.Result().Body)
				if w.Code != http.StatusOK || string(body) != want {
					errs <- fmt.Errorf("%s: got %d %q", want, w.Code, body)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestSlowRequestLogReusedStream: a recycled stream's slow-request timer is
// armed again for its next request. Quick and slow requests alternate, so
// that a slow one is likely to get the stream of the quick one before it:
// each slow request is reported once, and no quick one.
func TestSlowRequestLogReusedStream(t *testing.T) {
	c, logs := newContainer(t, Config{App: "apps:dispatch", SlowRequest: 200 * time.Millisecond})
	const slow = 3
	for i := range slow {
		if code, _ := serveBody(context.Background(), c, "/hello"); code != 200 {
			t.Fatalf("quick request %d: status %d", i, code)
		}
		if code, _ := serveBody(context.Background(), c, fmt.Sprintf("/sleep?s=0.5&n=%d", i)); code != 200 {
			t.Fatalf("slow request %d: status %d", i, code)
		}
	}
	waitFor(t, 3*time.Second, "a report for each slow request", func() bool {
		return strings.Count(logs.String(), `msg="wsgi: slow request;`) >= slow
	})
	if s := logs.String(); strings.Count(s, `msg="wsgi: slow request;`) != slow || strings.Contains(s, "url.path=/hello") {
		t.Errorf("want exactly %d slow-request reports, none for /hello:\n%s", slow, s)
	}
}

// serveAborting serves r like net/http's server, to which a handler may
// abort a response with http.ErrAbortHandler (as the container does for a
// client that left after the headers went out).
func serveAborting(h http.Handler, w http.ResponseWriter, r *http.Request) {
	defer func() {
		if p := recover(); p != nil && p != http.ErrAbortHandler {
			panic(p)
		}
	}()
	h.ServeHTTP(w, r)
}
