package wsgi

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// bodyDoc is what apps:body answers.
type bodyDoc struct {
	Calls []string `json:"calls"`
	CL    *string  `json:"cl"`
}

// hideLen hides a reader's length so that the client sends it chunked.
type hideLen struct{ r io.Reader }

func (h hideLen) Read(p []byte) (int, error) { return h.r.Read(p) }

// post POSTs body to url, with a Content-Length of length, or chunked
// (its length hidden) when length is negative, and returns the response
// with its body read.
func post(t *testing.T, url string, body io.Reader, length int64) (*http.Response, []byte) {
	t.Helper()
	if length < 0 {
		body = hideLen{body}
	}
	req, err := http.NewRequest("POST", url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = length
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, b
}

// bodyLength is the length post sends for a body of size bytes: -1
// (chunked) when chunked.
func bodyLength(size int, chunked bool) int64 {
	if chunked {
		return -1
	}
	return int64(size)
}

// TestInput reads wsgi.input every PEP 3333 way, for bodies passed inline,
// sent chunked, and spooled to a file descriptor.
func TestInput(t *testing.T) {
	const body = "line1\nline2\nlast"
	modes := []struct {
		mode       string
		want       []string
		notChecked bool // read() without argument: the validator forbids it
	}{
		{mode: "read", want: []string{body, ""}, notChecked: true},
		{mode: "read_all", want: []string{body, ""}},
		{mode: "readn", want: []string{"line", "1\nli", "ne2\n", "last", ""}},
		{mode: "readline", want: []string{"line1\n", "line2\n", "last", ""}},
		{mode: "readlinen", want: []string{"line", "1\n", "line", "2\n", "last", ""}},
		{mode: "readlines", want: []string{"line1\n", "line2\n", "last", ""}},
		{mode: "read_none", want: []string{body, ""}},
		{mode: "readlines_hint", want: []string{"line1\n", "line2\nlast"}},
		{mode: "iter", want: []string{"line1\n", "line2\n", "last"}},
		{mode: "cl", want: []string{body, ""}},
	}
	deliveries := []struct {
		name       string
		bodyBuffer int
		chunked    bool
	}{
		{"inline", 0, false},
		{"inline chunked", 0, true},
		{"spooled", 8, false},
		{"spooled chunked", 8, true},
	}
	variants(t, "body", func(t *testing.T, app string) {
		for _, dl := range deliveries {
			t.Run(dl.name, func(t *testing.T) {
				a := startApp(t, app, Config{BodyBuffer: dl.bodyBuffer}, nil)
				for _, m := range modes {
					if m.notChecked && strings.Contains(app, "validated") {
						continue
					}
					t.Run(m.mode, func(t *testing.T) {
						resp, b := post(t, a.srv.URL+"/?n=4&mode="+m.mode, strings.NewReader(body), bodyLength(len(body), dl.chunked))
						if resp.StatusCode != 200 {
							t.Fatalf("status %d: %s\n%s", resp.StatusCode, b, a.logs)
						}
						var d bodyDoc
						decodeJSON(t, b, &d)
						if !reflect.DeepEqual(d.Calls, m.want) {
							t.Errorf("calls %q, want %q", d.Calls, m.want)
						}
						if d.CL == nil || *d.CL != fmt.Sprint(len(body)) {
							t.Errorf("CONTENT_LENGTH %v, want %d", d.CL, len(body))
						}
					})
				}
			})
		}
	})
}

// TestInputLarge checks bodies well above BodyBuffer, with and without a
// Content-Length, and an empty body.
func TestInputLarge(t *testing.T) {
	variants(t, "body", func(t *testing.T, app string) {
		a := startApp(t, app, Config{BodyBuffer: 1024}, nil)
		for _, tc := range []struct {
			name    string
			size    int
			chunked bool
		}{{"empty", 0, false}, {"at buffer", 1024, false}, {"buffer+1", 1025, false}, {"chunked at buffer", 1024, true},
			{"chunked buffer+1", 1025, true}, {"3MiB", 3 << 20, false}, {"3MiB chunked", 3 << 20, true}} {
			t.Run(tc.name, func(t *testing.T) {
				data := strings.Repeat("0123456789abcdef", tc.size/16+1)[:tc.size]
				_, b := post(t, a.srv.URL+"/?mode=hash", strings.NewReader(data), bodyLength(tc.size, tc.chunked))
				var d struct {
					Len    int    `json:"len"`
					Sha256 string `json:"sha256"`
					CL     string `json:"cl"`
				}
				decodeJSON(t, b, &d)
				if d.Len != tc.size || d.Sha256 != sha256hex(data) || d.CL != fmt.Sprint(tc.size) {
					t.Errorf("app read %d bytes (CONTENT_LENGTH %q), want %d", d.Len, d.CL, tc.size)
				}
			})
		}
	})
}

// TestExpectContinue sends headers with Expect: 100-continue, waits for
// the interim response, and only then the body.
func TestExpectContinue(t *testing.T) {
	variants(t, "body", func(t *testing.T, app string) {
		a := startApp(t, app, Config{}, nil)
		for _, size := range []int{5, 200 << 10} {
			t.Run(fmt.Sprint(size), func(t *testing.T) {
				conn, err := net.Dial("tcp", a.srv.Listener.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				conn.SetDeadline(time.Now().Add(10 * time.Second))
				fmt.Fprintf(conn, "POST /?mode=hash HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n", size)
				br := bufio.NewReader(conn)
				line, err := br.ReadString('\n')
				if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100 Continue") {
					t.Fatalf("want 100 Continue, got %q %v", line, err)
				}
				if l, _ := br.ReadString('\n'); l != "\r\n" {
					t.Fatalf("100 Continue not followed by an empty line: %q", l)
				}
				data := strings.Repeat("x", size)
				io.WriteString(conn, data)
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				var d struct {
					Len    int    `json:"len"`
					Sha256 string `json:"sha256"`
				}
				decodeJSON(t, b, &d)
				if resp.StatusCode != 200 || d.Len != size || d.Sha256 != sha256hex(data) {
					t.Errorf("status %d, app read %d bytes, want %d", resp.StatusCode, d.Len, size)
				}
			})
		}
	})
}

// TestMaxBodySize: bodies over Config.MaxBodySize are answered 413 without
// reaching the app; bodies at the limit pass.
func TestMaxBodySize(t *testing.T) {
	for _, bb := range []int{0, 16} { // default BodyBuffer (64 KiB) and one below MaxBodySize
		t.Run(fmt.Sprint("BodyBuffer=", bb), func(t *testing.T) {
			a := startApp(t, "body", Config{MaxBodySize: 100, BodyBuffer: bb}, nil)
			for _, tc := range []struct {
				name    string
				size    int
				chunked bool
				want    int
			}{
				{"at limit", 100, false, 200},
				{"over by one", 101, false, 413},
				{"way over", 1 << 20, false, 413},
				{"chunked at limit", 100, true, 200},
				{"chunked over by one", 101, true, 413},
				{"chunked way over", 1 << 20, true, 413},
			} {
				t.Run(tc.name, func(t *testing.T) {
					resp, b := post(t, a.srv.URL+"/?mode=hash", strings.NewReader(strings.Repeat("z", tc.size)), bodyLength(tc.size, tc.chunked))
					if resp.StatusCode != tc.want {
						t.Errorf("status %d, want %d: %s", resp.StatusCode, tc.want, b)
					}
				})
			}
		})
	}
}

// TestSpoolReuse: the file of a spooled body is kept for the next spooled
// body once the app has sent its whole response, ends where each new body
// does (a smaller body after a larger one), and is closed instead when the
// app failed or the body is larger than spoolKeepMax. A body read by a
// streamed response is kept too.
func TestSpoolReuse(t *testing.T) {
	a := startApp(t, "body", Config{BodyBuffer: 1024}, nil)
	kept := func() []*os.File {
		a.c.spool.mu.Lock()
		defer a.c.spool.mu.Unlock()
		return slices.Clone(a.c.spool.free)
	}
	var last []*os.File
	for _, tc := range []struct {
		name    string
		size    int
		chunked bool
		mode    string
		want    int  // files kept afterwards
		same    bool // the one kept is the one kept before
	}{
		{"first spooled body", 3 << 20, false, "hash", 1, false},
		{"a smaller one in the same file", 2000, false, "hash", 1, true},
		{"chunked, in the same file", 1 << 20, true, "hash", 1, true},
		{"read by a streamed response", 300 << 10, false, "stream", 1, true},
		{"the app failed: closed", 5000, false, "raise", 0, false},
		{"a new file", 4000, false, "hash", 1, false},
		{"read again after the response", 3000, false, "late", 1, true},
		{"larger than kept: closed", spoolKeepMax + 1, false, "hash", 0, false},
		{"an inline body keeps nothing", 100, false, "hash", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := strings.Repeat("graft spool test", tc.size/16+1)[:tc.size]
			resp, b := post(t, a.srv.URL+"/?mode="+tc.mode, strings.NewReader(data), bodyLength(tc.size, tc.chunked))
			switch tc.mode {
			case "hash":
				var d struct {
					Len    int    `json:"len"`
					Sha256 string `json:"sha256"`
				}
				decodeJSON(t, b, &d)
				if d.Len != tc.size || d.Sha256 != sha256hex(data) {
					t.Errorf("app read %d bytes (sha256 %.8s), want %d (%.8s)", d.Len, d.Sha256, tc.size, sha256hex(data))
				}
			case "stream":
				total := 0
				for _, l := range strings.Fields(string(b)) {
					n, _ := strconv.Atoi(l)
					total += n
				}
				if total != tc.size {
					t.Errorf("app read %d bytes, want %d", total, tc.size)
				}
			case "raise":
				if resp.StatusCode != http.StatusInternalServerError {
					t.Errorf("status %d, want 500", resp.StatusCode)
				}
			case "late":
				// close() runs before the response's last frame: the
				// late read finds this body's end, never the next body.
				waitFor(t, 5*time.Second, "the late read's log line", func() bool {
					return strings.Contains(a.logs.String(), "late read:")
				})
				if !strings.Contains(a.logs.String(), "late read: 0 bytes") {
					t.Errorf("the app read its body after the response: %s", a.logs.String())
				}
			}
			now := kept()
			if len(now) != tc.want {
				t.Fatalf("%d files kept, want %d", len(now), tc.want)
			}
			if tc.want > 0 && len(last) > 0 && (now[0] == last[0]) != tc.same {
				t.Errorf("kept the same file: %v, want %v", now[0] == last[0], tc.same)
			}
			last = now
		})
	}
	// Shutdown closes the kept files.
	a.c.spool.put(mustSpool(t, a.c), 10, true)
	f := kept()[0]
	if err := a.c.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(kept()) != 0 || f.Close() == nil {
		t.Error("Shutdown left a kept file open")
	}
}

// mustSpool returns a spool file of c's.
func mustSpool(t *testing.T, c *Container) *os.File {
	t.Helper()
	f, _, err := c.spool.get(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestSpoolFails: a body that cannot be spooled (TempDir gone, as it is
// unwritable, full or the process out of descriptors) is answered 503 with
// Retry-After, the server's own trouble, never 502, which says the app or
// its worker failed; the app never sees the request, the log says why, and
// a body that fits in memory is still served.
func TestSpoolFails(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	a := startApp(t, "body", Config{TempDir: dir}, nil)
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprint("chunked=", chunked), func(t *testing.T) {
			const size = 200 << 10 // over BodyBuffer: spooled
			resp, b := post(t, a.srv.URL+"/?mode=hash", strings.NewReader(strings.Repeat("z", size)), bodyLength(size, chunked))
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
				t.Errorf("status %d (Retry-After %q): %s; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"), b)
			}
			logHas(t, a.logs, 2*time.Second, "cannot spool the request body", "no such file or directory")
			if line := logLine(a.logs, "cannot spool the request body"); !strings.Contains(line, "level=ERROR") {
				t.Errorf("logged as %q, want an ERROR (the operator's to fix)", line)
			}
		})
	}
	resp, b := post(t, a.srv.URL+"/?mode=hash", strings.NewReader("small"), 5)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("a body in memory: %d %s", resp.StatusCode, b)
	}
}
