package wsgi

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/graft-dev/graft/internal/pythontest"
)

// End-to-end tests of a real Flask app (testdata/flaskapp) served by the
// container. The helpers prefixed e2e are shared with django_test.go.

// e2eClient is an HTTP client for one test server: a cookie jar when asked
// for, and redirects returned rather than followed.
type e2eClient struct {
	t    testing.TB
	base string
	hc   *http.Client
}

func newE2EClient(t testing.TB, base string, withJar bool) *e2eClient {
	t.Helper()
	hc := &http.Client{
		Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	if withJar {
		jar, err := cookiejar.New(nil)
		if err != nil {
			t.Fatal(err)
		}
		hc.Jar = jar
	}
	return &e2eClient{t: t, base: base, hc: hc}
}

// do sends a request and returns the response with its body read.
func (c *e2eClient) do(method, path string, hdr http.Header, body io.Reader) (*http.Response, []byte) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	for k, vs := range hdr {
		req.Header[k] = vs // verbatim: tests send non-canonical names on purpose
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return resp, b
}

func (c *e2eClient) get(path string) (*http.Response, []byte) {
	c.t.Helper()
	return c.do(http.MethodGet, path, nil, nil)
}

// json sends a request, checks the status and decodes the JSON answer into
// out (when not nil).
func (c *e2eClient) json(method, path string, hdr http.Header, body io.Reader, want int, out any) *http.Response {
	c.t.Helper()
	resp, b := c.do(method, path, hdr, body)
	if resp.StatusCode != want {
		c.t.Fatalf("%s %s: status %d, want %d; body:\n%s", method, path, resp.StatusCode, want, e2eTrim(b))
	}
	if out != nil {
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			c.t.Fatalf("%s %s: Content-Type %q, want application/json; body:\n%s", method, path, ct, e2eTrim(b))
		}
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: decoding %s: %v", method, path, e2eTrim(b), err)
		}
	}
	return resp
}

func e2eTrim(b []byte) string {
	if len(b) > 2000 {
		return string(b[:2000]) + "..."
	}
	return string(b)
}

// e2eServe serves h (a container wrapped in Go middleware) on loopback.
func e2eServe(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// e2eMounted wraps c so that every request is served as if the router had
// mounted the app at prefix (wsgi.WithMount).
func e2eMounted(c *Container, prefix string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.ServeHTTP(w, r.WithContext(WithMount(r.Context(), prefix)))
	})
}

// e2eAuthenticated wraps c like an authentication middleware that has
// identified the user: REMOTE_USER is set with wsgi.WithEnviron.
func e2eAuthenticated(c *Container, user string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.ServeHTTP(w, r.WithContext(WithEnviron(r.Context(), "REMOTE_USER", user)))
	})
}

// e2eFile is one uploaded file, as the app reports it back.
type e2eFile struct {
	Field    string `json:"field"`
	Filename string `json:"filename"`
	Size     int    `json:"size"`
	SHA256   string `json:"sha256"`
}

type e2eUpload struct {
	Files         []e2eFile           `json:"files"`
	Fields        map[string][]string `json:"fields"`
	ContentLength string              `json:"content_length"`
}

// e2eRandom returns n deterministic pseudo-random bytes: every byte value,
// CR LF and things that look like multipart boundaries all show up.
func e2eRandom(seed uint64, n int) []byte {
	r := rand.New(rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), 'g', 'r', 'a', 'f', 't'}))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// e2eMultipart builds a multipart/form-data body with the fields and files
// (field name, file name, content) and returns it with its content type and
// what the app must report for the files.
func e2eMultipart(t testing.TB, fields [][2]string, files []struct {
	field, name string
	data        []byte
}) ([]byte, string, []e2eFile) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range fields {
		if err := mw.WriteField(f[0], f[1]); err != nil {
			t.Fatal(err)
		}
	}
	var want []e2eFile
	for _, f := range files {
		w, err := mw.CreateFormFile(f.field, f.name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(f.data)
		sum := sha256.Sum256(f.data)
		want = append(want, e2eFile{Field: f.field, Filename: f.name, Size: len(f.data), SHA256: hex.EncodeToString(sum[:])})
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), mw.FormDataContentType(), want
}

func e2eSortFiles(fs []e2eFile) []e2eFile {
	out := append([]e2eFile(nil), fs...)
	sort.Slice(out, func(i, j int) bool { return out[i].Filename < out[j].Filename })
	return out
}

// e2eUploadCases are the multipart uploads both apps must receive intact.
// Each returns the body reader (hiding its length for the chunked case).
type e2eUploadCase struct {
	name  string
	files []struct {
		field, name string
		data        []byte
	}
	chunked bool // no Content-Length: Transfer-Encoding: chunked
	spooled bool // the body is over BodyBuffer (64 KiB)
	expect  bool // Expect: 100-continue (curl's default for large bodies)
}

func e2eUploadCases() []e2eUploadCase {
	type file = struct {
		field, name string
		data        []byte
	}
	small := []byte("hello, world\r\n--not-a-boundary\r\n\x00\xff\r\n")
	medium := e2eRandom(1, 20<<10)
	large := e2eRandom(2, 100<<10+3) // > 64 KiB on its own
	huge := e2eRandom(3, 3<<20+17)   // > 2.5 MiB: frameworks spool it to disk too
	return []e2eUploadCase{
		{name: "inline", files: []file{{"doc", "a.txt", small}, {"blobs", "b.bin", medium}}},
		{name: "spooled", spooled: true, files: []file{
			{"doc", "a.txt", small}, {"blobs", "b.bin", medium}, {"blobs", "c.bin", large}, {"blobs", "d.bin", huge},
		}},
		{name: "chunked-inline", chunked: true, files: []file{{"doc", "a.txt", small}}},
		{name: "chunked-spooled", chunked: true, spooled: true, files: []file{
			{"doc", "a.txt", small}, {"blobs", "c.bin", large},
		}},
		{name: "empty-file", spooled: true, files: []file{{"doc", "empty.txt", nil}, {"blobs", "c.bin", large}}},
		{name: "expect-continue", spooled: true, expect: true, files: []file{
			{"doc", "a.txt", small}, {"blobs", "c.bin", large},
		}},
	}
}

// e2eTestUpload posts every upload case to path and checks the app got
// every file byte for byte.
func e2eTestUpload(t *testing.T, base, path string) {
	for _, tc := range e2eUploadCases() {
		t.Run(tc.name, func(t *testing.T) {
			fields := [][2]string{{"title", "graft ünïcode"}, {"tags", "x"}, {"tags", "y"}}
			body, ctype, want := e2eMultipart(t, fields, tc.files)
			if tc.spooled != (len(body) > 64<<10) {
				t.Fatalf("test bug: body of %d bytes, spooled=%v", len(body), tc.spooled)
			}
			var r io.Reader = bytes.NewReader(body)
			if tc.chunked {
				r = io.MultiReader(r) // unknown length: the client sends it chunked
			}
			hdr := http.Header{"Content-Type": {ctype}}
			if tc.expect {
				hdr.Set("Expect", "100-continue")
			}
			var got e2eUpload
			c := newE2EClient(t, base, false)
			c.json(http.MethodPost, path, hdr, r, http.StatusOK, &got)
			if g, w := e2eSortFiles(got.Files), e2eSortFiles(want); !reflect.DeepEqual(g, w) {
				t.Errorf("files the app received:\n%+v\nwant:\n%+v", g, w)
			}
			wantFields := map[string][]string{"title": {"graft ünïcode"}, "tags": {"x", "y"}}
			if !reflect.DeepEqual(got.Fields, wantFields) {
				t.Errorf("fields = %v, want %v", got.Fields, wantFields)
			}
			if got.ContentLength != fmt.Sprint(len(body)) {
				t.Errorf("CONTENT_LENGTH = %q, want %d", got.ContentLength, len(body))
			}
		})
	}
}

// e2eRawGet sends a request line verbatim (raw UTF-8 bytes in the target,
// which net/http's client would escape) and returns the response.
func e2eRawGet(t testing.TB, srv *httptest.Server, target string) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", target, srv.Listener.Addr())
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("GET %q: %v", target, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// e2eWaitLog waits (briefly) for the container log to contain every string.
func e2eWaitLog(t testing.TB, logs *pythontest.Buffer, want ...string) {
	t.Helper()
	if missing, s := logWait(logs, 5*time.Second, want...); missing != "" {
		t.Errorf("container log lacks %q; log:\n%s", missing, e2eTrim([]byte(s)))
	}
}

// e2ePage is a page of the Routing tests: GET path answers 200 with the
// HTML body want.
type e2ePage struct{ path, want string }

func e2eTestPages(t *testing.T, cl *e2eClient, pages []e2ePage) {
	t.Helper()
	for _, tc := range pages {
		t.Run(tc.path, func(t *testing.T) {
			resp, b := cl.get(tc.path)
			if resp.StatusCode != 200 || string(b) != tc.want {
				t.Errorf("GET %s = %d %q, want 200 %q", tc.path, resp.StatusCode, b, tc.want)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type = %q", ct)
			}
		})
	}
}

// e2eItem is a request to the items view: GET path answers the JSON of
// item id with the query parameter q (nil: none).
type e2eItem struct {
	path  string
	id    int
	query *string
}

func e2eTestItems(t *testing.T, cl *e2eClient, items []e2eItem) {
	t.Helper()
	for _, tc := range items {
		t.Run(tc.path, func(t *testing.T) {
			var got struct {
				ID int     `json:"id"`
				Q  *string `json:"q"`
			}
			cl.json(http.MethodGet, tc.path, nil, nil, 200, &got)
			if got.ID != tc.id || e2eStr(got.Q) != e2eStr(tc.query) {
				t.Errorf("got id=%d q=%s, want id=%d q=%s", got.ID, e2eStr(got.Q), tc.id, e2eStr(tc.query))
			}
		})
	}
}

// e2eTestHead checks that HEAD path answers like GET, whose body is want,
// with no body.
func e2eTestHead(t *testing.T, cl *e2eClient, path, want string) {
	t.Helper()
	resp, b := cl.do(http.MethodHead, path, nil, nil)
	if resp.StatusCode != 200 || len(b) != 0 || resp.ContentLength != int64(len(want)) {
		t.Errorf("HEAD %s = %d, body %q, Content-Length %d", path, resp.StatusCode, b, resp.ContentLength)
	}
}

// e2eNonASCII lists percent-encoded UTF-8 path segments and what the view
// must receive.
var e2eNonASCII = []struct{ name, escaped, want string }{
	{"latin1-range", "caf%C3%A9", "café"},
	{"cjk", "%E6%97%A5%E6%9C%AC", "日本"},
	{"astral", "%F0%9F%8D%95", "🍕"},
	{"lowercase-hex", "caf%c3%a9", "café"},
	{"space-and-plus", "a%20b+c", "a b+c"},
}

type e2eParam struct {
	Name       string `json:"name"`
	Path       string `json:"path"`
	Codepoints []int  `json:"codepoints"`
}

type e2eWhoami struct {
	RemoteUser     *string  `json:"remote_user"`
	HTTPRemoteUser *string  `json:"http_remote_user"`
	Keys           []string `json:"keys"`
	User           *string  `json:"user"` // Django's request.user
}

func e2eStr(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

// e2eRemoteUserCases: REMOTE_USER only ever comes from Go (WithEnviron);
// client headers named like it become HTTP_REMOTE_USER at most (Remote-User)
// or are dropped (names with '_').
var e2eRemoteUserCases = []struct {
	name       string
	auth       bool        // served through e2eAuthenticated(c, "alice")
	hdr        http.Header // sent verbatim
	wantUser   string      // REMOTE_USER, "<nil>" when absent
	wantHeader string      // HTTP_REMOTE_USER, "<nil>" when absent
}{
	{"middleware", true, nil, "alice", "<nil>"},
	{"middleware-vs-dash-header", true, http.Header{"Remote-User": {"mallory"}}, "alice", "mallory"},
	{"middleware-vs-underscore-header", true, http.Header{"Remote_User": {"mallory"}}, "alice", "<nil>"},
	{"dash-header", false, http.Header{"Remote-User": {"mallory"}}, "<nil>", "mallory"},
	{"underscore-header", false, http.Header{"Remote_User": {"mallory"}}, "<nil>", "<nil>"},
	{"upper-underscore-header", false, http.Header{"REMOTE_USER": {"mallory"}}, "<nil>", "<nil>"},
	{"http-underscore-header", false, http.Header{"Http_Remote_User": {"mallory"}}, "<nil>", "<nil>"},
	{"none", false, nil, "<nil>", "<nil>"},
}

func TestFlask(t *testing.T) {
	pythontest.Python(t, "flask")
	files := t.TempDir() // served at /files/<name>
	c, logs := newContainer(t, Config{App: "flaskapp:app", Env: []string{"GRAFT_FILES_DIR=" + files}})
	srv := newServer(t, c)

	t.Run("Routing", func(t *testing.T) {
		cl := newE2EClient(t, srv.URL, false)
		e2eTestPages(t, cl, []e2ePage{
			{"/", "flask index"},
			{"/hello/bob", "hello bob"},
			{"/hello/a%20b", "hello a b"},
			{"/hello/x%3Fy", "hello x?y"},
		})
		e2eTestItems(t, cl, []e2eItem{
			{"/items/42", 42, nil},
			{"/items/7?q=%C3%A9t%C3%A9+x", 7, e2ePtr("été x")},
		})
		// <int:...> does not match: the framework's 404.
		if resp, _ := cl.get("/items/abc"); resp.StatusCode != 404 {
			t.Errorf("GET /items/abc = %d, want 404", resp.StatusCode)
		}
		// HEAD: Flask answers with the GET view's headers and no body.
		e2eTestHead(t, cl, "/hello/bob", "hello bob")
	})

	t.Run("JSON", func(t *testing.T) {
		e2eTestJSON(t, srv.URL, "/json")
	})

	t.Run("Form", func(t *testing.T) {
		e2eTestForm(t, srv.URL, "/form")
	})

	t.Run("Upload", func(t *testing.T) {
		e2eTestUpload(t, srv.URL, "/upload")
	})

	t.Run("Session", func(t *testing.T) {
		e2eTestSession(t, srv.URL, "/session/set", "/session/get", "session")
	})

	t.Run("Cookie", func(t *testing.T) {
		e2eTestCookie(t, srv.URL, "/cookie/set", "/cookie/get")
	})

	t.Run("CSRF", func(t *testing.T) {
		token := regexp.MustCompile(`name="csrf_token" value="([0-9a-f]+)"`)
		getToken := func(t *testing.T, cl *e2eClient) string {
			resp, b := cl.get("/csrf/form")
			m := token.FindSubmatch(b)
			if resp.StatusCode != 200 || m == nil {
				t.Fatalf("GET /csrf/form = %d %q: no token", resp.StatusCode, b)
			}
			if !strings.Contains(string(b), `action="/csrf/submit"`) {
				t.Errorf("form action not built with url_for: %q", b)
			}
			return string(m[1])
		}
		form := func(kv ...string) (http.Header, io.Reader) {
			v := url.Values{}
			for i := 0; i+1 < len(kv); i += 2 {
				v.Add(kv[i], kv[i+1])
			}
			return http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, strings.NewReader(v.Encode())
		}
		cl := newE2EClient(t, srv.URL, true)
		tok := getToken(t, cl)
		if tok2 := getToken(t, cl); tok2 != tok {
			t.Errorf("token changed within the session: %q then %q", tok, tok2)
		}
		cases := []struct {
			name   string
			client *e2eClient
			kv     []string
			hdrTok string
			want   int
		}{
			{"no-token", cl, []string{"msg", "hi"}, "", 403},
			{"wrong-token", cl, []string{"msg", "hi", "csrf_token", strings.Repeat("0", 32)}, "", 403},
			{"form-token", cl, []string{"msg", "hi", "csrf_token", tok}, "", 200},
			{"header-token", cl, []string{"msg", "hi"}, tok, 200},
			{"token-without-session", newE2EClient(t, srv.URL, true), []string{"msg", "hi", "csrf_token", tok}, "", 403},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				hdr, body := form(tc.kv...)
				if tc.hdrTok != "" {
					hdr.Set("X-CSRF-Token", tc.hdrTok)
				}
				resp, b := tc.client.do(http.MethodPost, "/csrf/submit", hdr, body)
				if resp.StatusCode != tc.want {
					t.Fatalf("POST /csrf/submit = %d, want %d: %s", resp.StatusCode, tc.want, e2eTrim(b))
				}
				if tc.want == 200 && !strings.Contains(string(b), `"msg":"hi"`) {
					t.Errorf("body %s", b)
				}
			})
		}
	})

	t.Run("Redirect", func(t *testing.T) {
		e2eTestRedirect(t, srv.URL, "/redirect", "/hello/world")
	})

	t.Run("Download", func(t *testing.T) {
		e2eTestDownload(t, srv.URL, files, "/files/", "/download")
		// send_file(conditional=True) answers ranges and conditional GETs.
		const n = 300000
		if err := os.WriteFile(filepath.Join(files, "range.bin"), e2ePattern(n), 0o644); err != nil {
			t.Fatal(err)
		}
		cl := newE2EClient(t, srv.URL, false)
		resp, b := cl.do(http.MethodGet, "/files/range.bin", http.Header{"Range": {"bytes=70000-70009"}}, nil)
		if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(b, e2ePattern(n)[70000:70010]) ||
			resp.Header.Get("Content-Range") != "bytes 70000-70009/300000" {
			t.Errorf("range request = %d Content-Range %q body %q", resp.StatusCode, resp.Header.Get("Content-Range"), e2eTrim(b))
		}
		etag := resp.Header.Get("ETag")
		resp, b = cl.do(http.MethodGet, "/files/range.bin", http.Header{"If-None-Match": {etag}}, nil)
		if etag == "" || resp.StatusCode != http.StatusNotModified || len(b) != 0 {
			t.Errorf("If-None-Match %q = %d with %d body bytes, want 304", etag, resp.StatusCode, len(b))
		}
	})

	t.Run("Stream", func(t *testing.T) {
		e2eTestStream(t, srv.URL, "/stream")
	})

	t.Run("NonASCII", func(t *testing.T) {
		e2eTestNonASCII(t, srv, "", "/p/%s", false)
	})

	t.Run("NotFound", func(t *testing.T) {
		resp, b := newE2EClient(t, srv.URL, false).get("/no/such/page")
		if resp.StatusCode != 404 || !strings.Contains(string(b), "<title>404 Not Found</title>") {
			t.Errorf("GET /no/such/page = %d %s, want Flask's 404 page", resp.StatusCode, e2eTrim(b))
		}
		// Wrong method: Flask's 405, with Allow.
		resp, _ = newE2EClient(t, srv.URL, false).do(http.MethodPost, "/hello/bob", nil, strings.NewReader("x"))
		if resp.StatusCode != 405 || !strings.Contains(resp.Header.Get("Allow"), "GET") {
			t.Errorf("POST /hello/bob = %d Allow %q, want 405 with GET allowed", resp.StatusCode, resp.Header.Get("Allow"))
		}
	})

	t.Run("Exception", func(t *testing.T) {
		// PROPAGATE_EXCEPTIONS: the exception leaves the app; the container
		// answers 500 itself, logs the traceback and never shows it.
		cl := newE2EClient(t, srv.URL, false)
		resp, b := cl.get("/boom")
		if resp.StatusCode != 500 {
			t.Fatalf("GET /boom = %d, want 500", resp.StatusCode)
		}
		if string(b) != "Internal Server Error\n" || strings.Contains(string(b), "Traceback") {
			t.Errorf("500 body = %q, want DefaultErrorHandler's text without the traceback", b)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			t.Errorf("500 Content-Type = %q", ct)
		}
		e2eWaitLog(t, logs, "Traceback", "RuntimeError: flaskapp boom", "/boom")
		// The worker survives.
		if resp, b := cl.get("/hello/again"); resp.StatusCode != 200 || string(b) != "hello again" {
			t.Errorf("after the exception: %d %q", resp.StatusCode, b)
		}
	})

	t.Run("WithMount", func(t *testing.T) {
		msrv := e2eServe(t, e2eMounted(c, "/legacy"))
		testFlaskMounted(t, msrv)
	})

	t.Run("RemoteUser", func(t *testing.T) {
		asrv := e2eServe(t, e2eAuthenticated(c, "alice"))
		for _, tc := range e2eRemoteUserCases {
			t.Run(tc.name, func(t *testing.T) {
				base := srv.URL
				if tc.auth {
					base = asrv.URL
				}
				var got e2eWhoami
				newE2EClient(t, base, false).json(http.MethodGet, "/whoami", tc.hdr, nil, 200, &got)
				if e2eStr(got.RemoteUser) != tc.wantUser {
					t.Errorf("environ REMOTE_USER = %s, want %s (keys %v)", e2eStr(got.RemoteUser), tc.wantUser, got.Keys)
				}
				if e2eStr(got.HTTPRemoteUser) != tc.wantHeader {
					t.Errorf("environ HTTP_REMOTE_USER = %s, want %s (keys %v)", e2eStr(got.HTTPRemoteUser), tc.wantHeader, got.Keys)
				}
				for _, k := range got.Keys {
					if k != "REMOTE_USER" && k != "HTTP_REMOTE_USER" {
						t.Errorf("unexpected environ key %q", k)
					}
				}
			})
		}
	})
}

// TestFlaskScriptName serves the Flask app mounted at /legacy by the
// container's own configuration.
func TestFlaskScriptName(t *testing.T) {
	pythontest.Python(t, "flask")
	c, _ := newContainer(t, Config{App: "flaskapp:app", ScriptName: "/legacy"})
	testFlaskMounted(t, newServer(t, c))
}

// testFlaskMounted checks the Flask app mounted at /legacy.
func testFlaskMounted(t *testing.T, srv *httptest.Server) {
	t.Run("URLs", func(t *testing.T) {
		for _, tc := range []struct {
			path, urlFor, scriptRoot, reqPath string
		}{
			{"/legacy/urls", "/legacy/hello/x", "/legacy", "/urls"},
			// Outside the prefix: served unmounted, whole path in PATH_INFO.
			{"/urls", "/hello/x", "", "/urls"},
			// A path merely starting with the prefix is not under it.
			{"/legacyx/urls", "", "", ""},
		} {
			t.Run(tc.path, func(t *testing.T) {
				cl := newE2EClient(t, srv.URL, false)
				if tc.urlFor == "" {
					if resp, _ := cl.get(tc.path); resp.StatusCode != 404 {
						t.Errorf("GET %s = %d, want 404", tc.path, resp.StatusCode)
					}
					return
				}
				var got struct {
					URLFor     string `json:"url_for"`
					External   string `json:"external"`
					ScriptRoot string `json:"script_root"`
					Path       string `json:"path"`
					URL        string `json:"url"`
				}
				cl.json(http.MethodGet, tc.path, nil, nil, 200, &got)
				if got.URLFor != tc.urlFor || got.ScriptRoot != tc.scriptRoot || got.Path != tc.reqPath {
					t.Errorf("url_for=%q script_root=%q path=%q, want %q %q %q",
						got.URLFor, got.ScriptRoot, got.Path, tc.urlFor, tc.scriptRoot, tc.reqPath)
				}
				if got.External != srv.URL+tc.urlFor {
					t.Errorf("url_for(_external=True) = %q, want %q", got.External, srv.URL+tc.urlFor)
				}
				if got.URL != srv.URL+tc.path {
					t.Errorf("request.url = %q, want %q", got.URL, srv.URL+tc.path)
				}
			})
		}
	})
	t.Run("Routing", func(t *testing.T) {
		resp, b := newE2EClient(t, srv.URL, false).get("/legacy/hello/bob")
		if resp.StatusCode != 200 || string(b) != "hello bob" {
			t.Errorf("GET /legacy/hello/bob = %d %q", resp.StatusCode, b)
		}
		resp, b = newE2EClient(t, srv.URL, false).get("/legacy/")
		if resp.StatusCode != 200 || string(b) != "flask index" {
			t.Errorf("GET /legacy/ = %d %q", resp.StatusCode, b)
		}
		// The mount point itself (empty PATH_INFO): Werkzeug redirects to
		// the app's root, under the prefix.
		resp, _ = newE2EClient(t, srv.URL, false).get("/legacy")
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusPermanentRedirect || loc != srv.URL+"/legacy/" {
			t.Errorf("GET /legacy = %d Location %q, want 308 to %s/legacy/", resp.StatusCode, loc, srv.URL)
		}
	})
	t.Run("Redirect", func(t *testing.T) {
		e2eTestRedirect(t, srv.URL, "/legacy/redirect", "/legacy/hello/world")
	})
	t.Run("Session", func(t *testing.T) {
		e2eTestSession(t, srv.URL, "/legacy/session/set", "/legacy/session/get", "session")
	})
	t.Run("CSRFForm", func(t *testing.T) {
		resp, b := newE2EClient(t, srv.URL, true).get("/legacy/csrf/form")
		if resp.StatusCode != 200 || !strings.Contains(string(b), `action="/legacy/csrf/submit"`) {
			t.Errorf("GET /legacy/csrf/form = %d %q, want the form action under /legacy", resp.StatusCode, b)
		}
	})
	t.Run("NonASCII", func(t *testing.T) {
		e2eTestNonASCII(t, srv, "/legacy", "/p/%s", false)
	})
}

// TestFlaskConcurrent runs 200 concurrent requests through 2 workers of 2
// threads each.
func TestFlaskConcurrent(t *testing.T) {
	pythontest.Python(t, "flask")
	c, _ := newContainer(t, Config{App: "flaskapp:app", Workers: 2, Threads: 2})
	srv := newServer(t, c)
	tr := &http.Transport{MaxIdleConnsPerHost: 256}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 60 * time.Second}

	const n = 200
	type result struct {
		PID          int    `json:"pid"`
		Thread       int64  `json:"thread"`
		N            string `json:"n"`
		Multithread  bool   `json:"multithread"`
		Multiprocess bool   `json:"multiprocess"`
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		pids    = map[int]int{}
		threads = map[[2]int64]bool{}
		start   = make(chan struct{})
	)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/pid?n=%d&sleep=0.005", srv.URL, i), nil)
			resp, err := hc.Do(req)
			if err != nil {
				t.Errorf("request %d: %v", i, err)
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 {
				t.Errorf("request %d: status %d: %s", i, resp.StatusCode, e2eTrim(b))
				return
			}
			var r result
			if err := json.Unmarshal(b, &r); err != nil {
				t.Errorf("request %d: %v: %s", i, err, b)
				return
			}
			if r.N != fmt.Sprint(i) || !r.Multithread || !r.Multiprocess {
				t.Errorf("request %d: got %+v", i, r)
			}
			mu.Lock()
			pids[r.PID]++
			threads[[2]int64{int64(r.PID), r.Thread}] = true
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	if len(pids) != 2 {
		t.Errorf("requests were served by %d worker processes (%v), want 2", len(pids), pids)
	}
	if len(threads) > 4 {
		t.Errorf("requests ran on %d worker threads, want at most 4", len(threads))
	}
	t.Logf("per-worker request counts: %v; threads used: %d", pids, len(threads))
}

func e2ePtr[T any](v T) *T { return &v }

// e2eTestJSON posts a JSON document and checks the echo.
func e2eTestJSON(t *testing.T, base, path string) {
	doc := map[string]any{
		"numbers": []any{1.0, 2.0, 3.5},
		"name":    "Jürgen 日本 🍕",
		"nested":  map[string]any{"a": []any{true, nil, "x\"y\\z"}},
	}
	b, _ := json.Marshal(doc)
	var got struct {
		Got         map[string]any `json:"got"`
		Sum         float64        `json:"sum"`
		ContentType string         `json:"content_type"`
	}
	newE2EClient(t, base, false).json(http.MethodPost, path,
		http.Header{"Content-Type": {"application/json"}}, bytes.NewReader(b), http.StatusCreated, &got)
	if !reflect.DeepEqual(got.Got, doc) {
		t.Errorf("echo = %v, want %v", got.Got, doc)
	}
	if got.Sum != 6.5 || got.ContentType != "application/json" {
		t.Errorf("sum = %v, content type = %q", got.Sum, got.ContentType)
	}
}

// e2eTestForm posts an urlencoded form.
func e2eTestForm(t *testing.T, base, path string) {
	var got struct {
		Fields map[string][]string `json:"fields"`
	}
	body := "name=J%C3%BCrgen&tags=a&tags=b&empty=&plus=a+b&amp=%26%3D"
	newE2EClient(t, base, false).json(http.MethodPost, path,
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, strings.NewReader(body), 200, &got)
	want := map[string][]string{
		"name": {"Jürgen"}, "tags": {"a", "b"}, "empty": {""}, "plus": {"a b"}, "amp": {"&="},
	}
	if !reflect.DeepEqual(got.Fields, want) {
		t.Errorf("form = %v, want %v", got.Fields, want)
	}
}

// e2eTestSession sets session values in one request and reads them in the
// next, with a cookie jar; a client without the cookie sees none.
func e2eTestSession(t *testing.T, base, setPath, getPath, key string) {
	cl := newE2EClient(t, base, true)
	resp := cl.json(http.MethodGet, setPath+"?color=blue&name=%C3%A9l%C3%A9onore", nil, nil, 200, nil)
	if len(resp.Cookies()) == 0 {
		t.Fatalf("GET %s set no cookie (headers %v)", setPath, resp.Header)
	}
	cl.json(http.MethodGet, setPath+"?size=xl", nil, nil, 200, nil)
	var got map[string]map[string]string
	cl.json(http.MethodGet, getPath, nil, nil, 200, &got)
	want := map[string]string{"color": "blue", "name": "éléonore", "size": "xl"}
	if !reflect.DeepEqual(got[key], want) {
		t.Errorf("session = %v, want %v", got[key], want)
	}
	got = nil
	newE2EClient(t, base, true).json(http.MethodGet, getPath, nil, nil, 200, &got)
	if len(got[key]) != 0 {
		t.Errorf("fresh client's session = %v, want empty", got[key])
	}
}

// e2eTestCookie sets a plain cookie and reads it back.
func e2eTestCookie(t *testing.T, base, setPath, getPath string) {
	cl := newE2EClient(t, base, true)
	resp := cl.json(http.MethodGet, setPath+"?v=chocolate", nil, nil, 200, nil)
	sc := strings.Join(resp.Header.Values("Set-Cookie"), "\n")
	if !strings.Contains(sc, "flavour=chocolate") || !strings.Contains(sc, "HttpOnly") {
		t.Errorf("Set-Cookie = %q", sc)
	}
	if n := len(resp.Cookies()); n != 2 {
		t.Errorf("got %d cookies, want 2 Set-Cookie headers: %q", n, sc)
	}
	var got struct {
		Flavour *string `json:"flavour"`
	}
	cl.json(http.MethodGet, getPath, nil, nil, 200, &got)
	if e2eStr(got.Flavour) != "chocolate" {
		t.Errorf("cookie read back = %s", e2eStr(got.Flavour))
	}
	// Several cookies in one Cookie header, and two Cookie headers, which
	// the container joins with "; ".
	var got2 struct {
		Flavour *string `json:"flavour"`
	}
	newE2EClient(t, base, false).json(http.MethodGet, getPath,
		http.Header{"Cookie": {"a=1; flavour=vanilla", "b=2"}}, nil, 200, &got2)
	if e2eStr(got2.Flavour) != "vanilla" {
		t.Errorf("cookie from two Cookie headers = %s", e2eStr(got2.Flavour))
	}
}

// e2eTestRedirect checks a 302 to a URL the framework built (url_for /
// reverse) and follows it.
func e2eTestRedirect(t *testing.T, base, path, wantPath string) {
	cl := newE2EClient(t, base, false)
	resp, _ := cl.get(path)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("GET %s = %d, want 302", path, resp.StatusCode)
	}
	loc := resp.Header.Get("Location")
	u, err := resp.Request.URL.Parse(loc)
	if err != nil || u.String() != base+wantPath {
		t.Fatalf("Location %q resolves to %v, want %s", loc, u, base+wantPath)
	}
	resp2, b := cl.get(strings.TrimPrefix(u.String(), base))
	if resp2.StatusCode != 200 || string(b) != "hello world" {
		t.Errorf("following the redirect: %d %q", resp2.StatusCode, b)
	}
}

// e2eTestNonASCII gets pattern (a path with one %s) under prefix with each
// percent-encoded UTF-8 segment, and with the raw UTF-8 bytes on the wire.
// fullPath says request.path includes the mount prefix (Django) or not
// (Flask, where it is request.script_root + request.path).
func e2eTestNonASCII(t *testing.T, srv *httptest.Server, prefix, pattern string, fullPath bool) {
	for _, tc := range e2eNonASCII {
		t.Run(tc.name, func(t *testing.T) {
			p := prefix + fmt.Sprintf(pattern, tc.escaped)
			var got e2eParam
			newE2EClient(t, srv.URL, false).json(http.MethodGet, p, nil, nil, 200, &got)
			if got.Name != tc.want {
				t.Errorf("GET %s: view got %q (code points %v), want %q", p, got.Name, got.Codepoints, tc.want)
			}
			wantPath := fmt.Sprintf(pattern, tc.want)
			if fullPath {
				wantPath = prefix + wantPath
			}
			if got.Path != wantPath {
				t.Errorf("GET %s: request.path = %q, want %q", p, got.Path, wantPath)
			}
		})
	}
	t.Run("raw-utf8", func(t *testing.T) {
		p := prefix + fmt.Sprintf(pattern, "café")
		resp, b := e2eRawGet(t, srv, p)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %q (raw bytes) = %d: %s", p, resp.StatusCode, e2eTrim(b))
		}
		var got e2eParam
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%v: %s", err, b)
		}
		if got.Name != "café" {
			t.Errorf("GET %q (raw bytes): view got %q, want café", p, got.Name)
		}
	})
}

// e2ePattern returns the bytes the apps' /download views serve.
func e2ePattern(n int) []byte {
	unit := append([]byte("graft"), make([]byte, 256)...)
	for i := 0; i < 256; i++ {
		unit[5+i] = byte(i)
	}
	return bytes.Repeat(unit, n/len(unit)+1)[:n]
}

// e2eDownloadSizes are the sizes of the files the download tests serve.
var e2eDownloadSizes = []int{0, 1, 100<<10 + 1, 3<<20 + 5}

// e2eTestDownload gets files the app serves through wsgi.file_wrapper (Go
// sends them with sendfile) and checks every byte: files the test writes
// into dir and the app serves by path at filesPath+name (Content-Length
// known), and unlinked temporary files at tmpPath?n= (length unknown to the
// app).
func e2eTestDownload(t *testing.T, base, dir, filesPath, tmpPath string) {
	check := func(t *testing.T, p string, n int, sized bool) {
		cl := newE2EClient(t, base, false)
		resp, b := cl.get(p)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s = %d: %s", p, resp.StatusCode, e2eTrim(b))
		}
		if sized && resp.ContentLength != int64(n) {
			t.Errorf("GET %s: Content-Length = %d, want %d", p, resp.ContentLength, n)
		}
		if want := e2ePattern(n); !bytes.Equal(b, want) {
			t.Errorf("GET %s: got %d bytes (sha256 %x), want %d (sha256 %x)", p, len(b), sha256.Sum256(b), n, sha256.Sum256(want))
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/octet-stream" {
			t.Errorf("GET %s: Content-Type = %q", p, ct)
		}
		resp, b = cl.do(http.MethodHead, p, nil, nil)
		if resp.StatusCode != 200 || len(b) != 0 || sized && resp.ContentLength != int64(n) {
			t.Errorf("HEAD %s = %d, %d body bytes, Content-Length %d", p, resp.StatusCode, len(b), resp.ContentLength)
		}
	}
	for _, n := range e2eDownloadSizes {
		t.Run(fmt.Sprint("file-", n), func(t *testing.T) {
			name := fmt.Sprintf("data-%d.bin", n)
			if err := os.WriteFile(filepath.Join(dir, name), e2ePattern(n), 0o644); err != nil {
				t.Fatal(err)
			}
			check(t, filesPath+name, n, true)
		})
		t.Run(fmt.Sprint("tempfile-", n), func(t *testing.T) {
			check(t, fmt.Sprintf("%s?n=%d", tmpPath, n), n, false)
		})
	}
}

// e2eTestStream gets a response the app streams from a generator.
func e2eTestStream(t *testing.T, base, path string) {
	for _, n := range []int{0, 1, 500} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			resp, b := newE2EClient(t, base, false).get(fmt.Sprintf("%s?n=%d", path, n))
			var want strings.Builder
			for i := 0; i < n; i++ {
				fmt.Fprintf(&want, "chunk %d\n", i)
			}
			if resp.StatusCode != 200 || string(b) != want.String() {
				t.Errorf("GET %s?n=%d = %d, %d bytes %q, want %d bytes", path, n, resp.StatusCode, len(b), e2eTrim(b), want.Len())
			}
		})
	}
}
