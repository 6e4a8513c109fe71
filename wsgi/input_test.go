package wsgi

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
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
						var r io.Reader = strings.NewReader(body)
						if dl.chunked {
							r = hideLen{r}
						}
						req, _ := http.NewRequest("POST", a.srv.URL+"/?n=4&mode="+m.mode, r)
						if dl.chunked {
							req.ContentLength = -1
						}
						resp, err := http.DefaultClient.Do(req)
						if err != nil {
							t.Fatal(err)
						}
						b, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
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
				var r io.Reader = strings.NewReader(data)
				if tc.chunked {
					r = hideLen{r}
				}
				req, _ := http.NewRequest("POST", a.srv.URL+"/?mode=hash", r)
				if tc.chunked {
					req.ContentLength = -1
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
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
					var r io.Reader = strings.NewReader(strings.Repeat("z", tc.size))
					if tc.chunked {
						r = hideLen{r}
					}
					req, _ := http.NewRequest("POST", a.srv.URL+"/?mode=hash", r)
					if tc.chunked {
						req.ContentLength = -1
					}
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != tc.want {
						t.Errorf("status %d, want %d: %s", resp.StatusCode, tc.want, b)
					}
				})
			}
		})
	}
}
