package main

// The differentials against more peers than gunicorn: uWSGI (Debian's
// uwsgi with its python3 plugin, --http-socket) and Tornado's
// WSGIContainer, the server graft rebuilds in Go. The request side sends
// diffenvCorpus (the root run of TestDiffEnvGunicorn) and compares the
// environ each server gives testdata/diffenv_app.py; the response side
// sends diffrespCases and compares the raw answers of
// testdata/diffresp_app.py. Where graft's own result is one decided on
// against gunicorn (diffenvKnown, diffrespKnown), the difference is that
// decision's; any other difference with a peer must be listed in
// diffpeersEnvKnown or diffpeersRespKnown with its reason (docs/operations.md,
// "Differences from other WSGI servers").

import (
	"bufio"
	"cmp"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/graft-dev/graft/examples/internal/opstest"
	"github.com/graft-dev/graft/internal/pythontest"
	"github.com/graft-dev/graft/internal/testcert"
)

// diffpeer is a WSGI server graft is compared with.
type diffpeer struct {
	name string
	// on runs the peer on a listening socket (pythontest.UWSGIOn,
	// pythontest.TornadoOn).
	on func(t testing.TB, f *os.File, dir, app string, args ...string) *pythontest.Buffer
	// serves gives the peer's options to serve app as run says (its
	// SCRIPT_NAME, TLS with cert and key, a trusted proxy, the PROXY
	// protocol), or false where the peer cannot (docs/operations.md,
	// uWSGI and Tornado: what differs).
	serves func(run diffenvRun, app, cert, key string) ([]string, bool)
}

// diffpeers are the peers beyond gunicorn.
var diffpeers = []diffpeer{
	{name: "uwsgi", on: pythontest.UWSGIOn, serves: func(run diffenvRun, app, cert, key string) ([]string, bool) {
		var args []string
		for _, e := range run.env {
			if prefix, ok := strings.CutPrefix(e, "SCRIPT_NAME="); ok {
				args = append(args, "--mount", prefix+"="+app, "--manage-script-name")
			}
		}
		if run.tls {
			args = append(args, "--https-socket", "fd://3,"+cert+","+key)
		}
		if run.proxy {
			args = append(args, "--enable-proxy-protocol")
		}
		if run.workers > 1 || run.threads == 1 {
			// The later options win over UWSGIOn's one process of two threads.
			args = append(args, "--processes", strconv.Itoa(cmp.Or(run.workers, 1)), "--threads", strconv.Itoa(cmp.Or(run.threads, 2)))
		}
		// uWSGI has no list of trusted proxies: run.trusted needs nothing.
		return args, true
	}},
	{name: "tornado", on: pythontest.TornadoOn, serves: func(run diffenvRun, app, cert, key string) ([]string, bool) {
		var args []string
		if run.tls {
			args = append(args, "--certfile", cert, "--keyfile", key)
		}
		if run.trusted {
			args = append(args, "--xheaders")
		}
		// WSGIContainer has no prefix, no PROXY protocol and one process.
		return args, len(run.env) == 0 && !run.proxy && run.workers <= 1
	}},
}

// start runs p serving app from dir as run says, with the test's
// certificate cert and key, and returns its address as
// diffenvRun.startGunicorn does ("unix:/path", "tls:host:port"), or ""
// where p cannot serve run.
func (p diffpeer) start(t *testing.T, run diffenvRun, dir, app, cert, key string) string {
	t.Helper()
	args, ok := p.serves(run, app, cert, key)
	if !ok {
		return ""
	}
	f, addr := run.listen(t, p.name)
	p.on(t, f, dir, app, args...)
	if run.tls {
		addr = "tls:" + addr
	}
	return addr
}

// diffpeersWait bounds one exchange with a peer: a peer that neither
// answers nor closes within it is reported as a timeout (a difference),
// so that the test stays short.
const diffpeersWait = 3 * time.Second

// waitUp waits until addr (as roundTrip takes it) answers a GET of path,
// with a status below 500 (the peers boot while graft starts).
func waitUp(t *testing.T, name, addr, path string) {
	t.Helper()
	for i := 0; ; i++ {
		if c, err := dialDiff(addr); err == nil {
			c.SetDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(c, rawGet(path, "Connection: close"))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			c.Close()
			if err == nil && resp.StatusCode < 500 {
				return
			}
		}
		if i == 300 {
			t.Fatalf("%s does not answer", name)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// decidedEnv reports whether d, graft's difference with a peer on key k
// in case name of the TestDiffEnvGunicorn run, shows graft's value as
// diffenvKnown lists it against gunicorn: graft's behaviour there is
// decided and documented.
func decidedEnv(run, name, k, d string) bool {
	listed, ok := diffenvKnown[run+"/"+name].diffs[k]
	if !ok {
		return false
	}
	graftSide := func(s string) string { return s[:strings.Index(s+", ", ", ")] }
	return graftSide(listed) == graftSide(d)
}

// diffpeerAddr is a peer serving a run's corpus.
type diffpeerAddr struct{ name, addr string }

// TestDiffEnvPeers sends each run's corpus of TestDiffEnvGunicorn
// (diffenvRuns) to wsgiserve and to the peers that can serve the run
// (diffpeer.serves): uWSGI all (SCRIPT_NAME with --mount and
// --manage-script-name, TLS with --https-socket, the PROXY protocol with
// --enable-proxy-protocol, processes with --processes 2 --threads 1; it
// has no list of trusted proxies), Tornado the root, unix, tls and
// trusted runs (the last with xheaders). It fails on any difference of a peer's environ that is
// neither one decided against gunicorn nor listed in diffpeersEnvKnown,
// and on a listed one that is gone.
func TestDiffEnvPeers(t *testing.T) {
	dir, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	bin := opstest.Build(t, "wsgiserve")
	cert, key, _ := testcert.Write(t, t.TempDir(), 1)
	for _, run := range diffenvRuns {
		t.Run(run.name, func(t *testing.T) {
			var peers []diffpeerAddr
			for _, p := range diffpeers {
				if addr := p.start(t, run, dir, "diffenv_app:app", cert, key); addr != "" {
					peers = append(peers, diffpeerAddr{p.name, addr})
				}
			}
			if len(peers) == 0 {
				t.Fatalf("no peer serves run %s", run.name)
			}
			graft := run.startGraft(t, bin, dir, cert, key)
			for _, p := range peers {
				waitUp(t, p.name, p.addr, "/")
			}
			prefix := run.name + "/"
			if run.name == "root" {
				prefix = ""
			}
			for _, c := range run.corpus {
				if c.graftOnly != 0 {
					continue // no peer need answer it; TestDiffEnvGunicorn checks graft's answer
				}
				t.Run(c.name, func(t *testing.T) { comparePeerEnv(t, run, prefix, c, graft, peers) })
			}
		})
	}
}

// comparePeerEnv sends c to graft and to each peer and compares the
// results. run is c's run in TestDiffEnvGunicorn; prefix is put before
// c's name in diffpeersEnvKnown's keys ("uwsgi/" + prefix + name). On a
// run.proxyInTLS run, a peer gets c's clear bytes inside TLS, as
// gunicorn does (uWSGI 2.0 reads the PROXY header there too).
func comparePeerEnv(t *testing.T, run diffenvRun, prefix string, c diffenvCase, graft string, peers []diffpeerAddr) {
	t.Helper()
	g := roundTrip(graft, c)
	for _, r := range g.responses {
		normaliseEnv(r.environ, graft)
	}
	pc := c
	if run.proxyInTLS {
		pc.raw, pc.clear = c.clear+c.raw, ""
	}
	for _, p := range peers {
		u := roundTripWithin(p.addr, pc, diffpeersWait)
		for _, r := range u.responses {
			if uri, ok := r.environ["REQUEST_URI"]; ok && r.environ["RAW_URI"] == nil {
				r.environ["RAW_URI"] = uri // uWSGI's name for the raw target
			}
			normaliseEnv(r.environ, p.addr)
			// uWSGI's SERVER_NAME without a Host is the machine's name.
			if host, err := os.Hostname(); err == nil && r.environ["SERVER_NAME"] == host {
				r.environ["SERVER_NAME"] = "HOSTNAME"
			}
		}
		got := peerDifferences(p.name, peerView(p.name, g, u), u)
		for k, d := range got {
			got[k] = brief(p.name, d)
		}
		want := diffpeersEnvKnown[p.name+"/"+prefix+c.name].diffs
		for _, k := range slices.Sorted(maps.Keys(got)) {
			if want[k] == got[k] || (want[k] == "" && decidedEnv(run.name, c.name, k, got[k])) {
				continue
			}
			t.Errorf("new difference: %q: %q", k, got[k])
		}
		for _, k := range slices.Sorted(maps.Keys(want)) {
			if _, ok := got[k]; !ok {
				t.Errorf("listed difference gone (remove it from diffpeersEnvKnown): %s: %s", k, want[k])
			}
		}
	}
}

// brief is a difference with peer as diffpeersEnvKnown lists it: a long
// value (a spooled body, its chunks) is cut, with its length and a digest
// of the whole, so that the table stays readable and still pins the
// values.
func brief(peer, d string) string {
	cut := func(v string) string {
		if len(v) <= 100 {
			return v
		}
		return fmt.Sprintf("%s… (%d bytes, sha256 %.12x)", v[:60], len(v), sha256.Sum256([]byte(v)))
	}
	i := strings.LastIndex(d, ", "+peer+" ")
	if i < 0 {
		return cut(d)
	}
	return cut(d[:i]) + ", " + peer + " " + cut(d[i+len(peer)+3:])
}

// serverExtensions are environ keys PEP 3333 leaves to the server: graft
// sets them as gunicorn does; they are compared with a peer only when it
// sets them too.
var serverExtensions = []string{"RAW_URI", "wsgi.input_terminated"}

// peerView is graft's result g as compared with peer's result u: without
// the server extensions u does not set, and for Tornado, whose
// WSGIContainer runs the app on its one event-loop thread and says so,
// without wsgi.multithread and wsgi.multiprocess (graft's say what
// -workers and -threads ask).
func peerView(peer string, g, u diffenvResult) diffenvResult {
	v := diffenvResult{err: g.err}
	for i, r := range g.responses {
		env := maps.Clone(r.environ)
		for _, k := range serverExtensions {
			if i >= len(u.responses) || u.responses[i].environ == nil {
				break
			}
			if _, ok := u.responses[i].environ[k]; !ok {
				delete(env, k)
			}
		}
		if peer == "tornado" && env != nil && i < len(u.responses) && u.responses[i].environ != nil {
			env["wsgi.multithread"] = u.responses[i].environ["wsgi.multithread"]
			env["wsgi.multiprocess"] = u.responses[i].environ["wsgi.multiprocess"]
		}
		r.environ = env
		v.responses = append(v.responses, r)
	}
	return v
}

// Reasons of diffpeersEnvKnown (docs/operations.md, "Differences from
// other WSGI servers").
const (
	whyUWSGIDots = "uWSGI removes dot segments from PATH_INFO; graft passes the path as sent, as gunicorn and " +
		"waitress do: an app (or the router in front) decides what they mean, and sees what the client sent"
	whyPeerAbsolute = "an absolute-form target's path is PATH_INFO (RFC 9112 §3.2.2), as under gunicorn; uWSGI " +
		"and Tornado pass the whole URL as PATH_INFO, which no app's routes match"
	whyPeerFragment = "a fragment is no part of a request target (RFC 9112 §3.2): graft cuts it; uWSGI and " +
		"Tornado leave it in QUERY_STRING (Tornado in PATH_INFO too)"
	whyUWSGIBuffer = "uWSGI's whole request head must fit its --buffer-size (4096 bytes by default): a longer " +
		"one is dropped without an answer; graft's limits are gunicorn's, each with its status (docs/operations.md)"
	whyUWSGIVersion = "uWSGI copies the request line's version into its status line unchecked (\"http/1.1 400\", " +
		"\"HTTP/1.1\" as a status code), an answer no client reads; graft answers as gunicorn does"
	whyUWSGIEmptyLines = "empty lines before a request line are skipped (RFC 9112 §2.2); uWSGI runs the app " +
		"for a request with no method, path or version"
	whyUWSGIJoin = "repeated fields are joined with \",\" (as gunicorn and Tornado do), uWSGI with \", \": the " +
		"same list (RFC 9110 §5.3, §5.6.1)"
	whyPeerColon = "RFC 9112 §5.1: a server MUST answer 400 to whitespace in a field name or before its colon " +
		"(graft and gunicorn do); uWSGI and Tornado serve the field"
	whyTornado10 = "Tornado's WSGIContainer answers every request with an HTTP/1.1 status line and no " +
		"Connection: close, then closes an HTTP/1.0 connection anyway (RFC 9110 §2.5 allows the version); " +
		"graft answers HTTP/1.0 and says it closes: harmless"
	whyTornadoDrops = "Tornado closes the connection without an answer (a head over its 64 KiB, a Host with a bad " +
		"port, a chunk extension, which RFC 9112 §7.1.1 says to ignore, a bad chunk size); graft answers " +
		"(431, 400, the body, 400)"
	whyPeerServerName = "without a Host, SERVER_NAME and SERVER_PORT are the socket's address, as under gunicorn " +
		"(docs/wsgi.md); uWSGI's SERVER_NAME is the machine's hostname, Tornado's SERVER_PORT the scheme's default, " +
		"neither of which reaches the server: harmless where apps read HTTP_HOST first"
	whyUWSGIKeepAlive = "uWSGI's --http-socket serves one request per connection and closes it without " +
		"Connection: close; graft keeps HTTP/1.1 (and HTTP/1.0 keep-alive) connections open: harmless"
	whyUWSGIScheme = "uWSGI takes wsgi.url_scheme https from any client's X-Forwarded-Proto or X-Forwarded-Ssl, " +
		"so that a client makes the app build https URLs and secure-only decisions; graft takes the scheme from a " +
		"trusted proxy only (docs/operations.md, Behind a front proxy)"
	whyTornadoXheaders = "Tornado's xheaders read X-Real-Ip, X-Forwarded-For, X-Scheme and X-Forwarded-Proto " +
		"(from any client: it has no list of trusted proxies); graft reads gunicorn's secure_scheme_headers " +
		"from a trusted proxy, X-Forwarded-Ssl: on among them"
	whyPeerProtocol = "X-Forwarded-Protocol: ssl, one of gunicorn's secure_scheme_headers, is read from a trusted " +
		"proxy; uWSGI and Tornado do not know it"
	whyPeerContradicting = "scheme headers that contradict each other (X-Forwarded-Proto: https, X-Forwarded-Ssl: " +
		"off) get gunicorn's 400 Contradictory scheme headers; uWSGI and Tornado serve the request with the " +
		"scheme of the one they read"
	whyUWSGIServerAddr = "with --enable-proxy-protocol uWSGI gives the address the client reached the load " +
		"balancer on as SERVER_ADDR (gunicorn: PROXY_ADDR), an extension; graft leaves it out (see " +
		"proxy/v1 TCP4 in diffenvKnown)"
	whyPeerUnixAddr = "a Unix socket's unnamed peer has no address: graft's REMOTE_ADDR is gunicorn's \"\", " +
		"uWSGI's and Tornado's \"0.0.0.0\" (waitress's \"localhost\", werkzeug's \"<local>\"): no two of the others " +
		"agree but these (docs/wsgi.md, What the app sees); behind a proxy on the socket, trust it " +
		"(-forwarded-allow-ips unix) and REMOTE_ADDR is the client"
	whyUWSGIReadline = "wsgi.input's readline(size) stops after size bytes, as io's and gunicorn's do; uWSGI " +
		"ignores the size and returns the whole line, which PEP 3333 allows"
	whyUWSGIReadNone = "wsgi.input.read(None) reads all, as io's does; uWSGI raises TypeError (PEP 3333 asks " +
		"for read(size) and read() only)"
	whyUWSGIRead0 = "read(0) returns b\"\", as io's does; uWSGI's read(0) reads the whole body (a uWSGI bug)"
	whyPeerLength = "a Content-Length that is not one run of digits (twice, a list, negative) is refused " +
		"(400), as gunicorn does: RFC 9110 §8.6 lets a recipient refuse duplicates, and a proxy in front may " +
		"frame the body otherwise (request smuggling); uWSGI and Tornado serve it"
	whyUWSGIChunked = "uWSGI's --http-socket does not decode a chunked body: wsgi.input is empty (an app must " +
		"call uwsgi.chunked_read); graft decodes it and gives its length as CONTENT_LENGTH (docs/wsgi.md)"
	whyPeerCLTE = "Transfer-Encoding with Content-Length is refused (400), as gunicorn does (RFC 9112 §6.3: " +
		"a smuggling attempt); uWSGI serves it"
	whyPeerTE10 = "Transfer-Encoding on HTTP/1.0 is faulty framing (RFC 9112 §6.1): refused (400), as gunicorn " +
		"does; uWSGI and Tornado serve it"
	whyTornadoTrailer = "trailer fields after a chunked body are allowed (RFC 9112 §7.1.2): graft drops them and " +
		"serves the body; Tornado answers 400"
	whyUWSGIExpect = "uWSGI never answers Expect: 100-continue with 100 Continue (the client sends the body " +
		"after its own wait); graft's 100 goes out when the app reads the body"
)

// diffpeersEnvKnown are the differences with a peer decided on, by
// "peer/case": each is deliberate (and documented) or harmless. A
// difference on a key where graft's value is the one diffenvKnown lists
// against gunicorn needs no entry.
var diffpeersEnvKnown = map[string]diffenvKnownCase{
	"uwsgi/SCRIPT_NAME/root": {"outside the prefix SCRIPT_NAME is \"\" (docs/operations.md, -script-name); uWSGI's " +
		"default app gets none, which PEP 3333 allows for an empty value: harmless", map[string]string{
		"SCRIPT_NAME": `graft "", uwsgi (absent)`,
	}},
	"uwsgi/dot segment": {whyUWSGIDots, map[string]string{
		"PATH_INFO": "graft \"/a/./b\", uwsgi \"/a/b\"",
	}},
	"uwsgi/dot-dot segment": {whyUWSGIDots, map[string]string{
		"PATH_INFO": "graft \"/a/../b\", uwsgi \"/b\"",
	}},
	"uwsgi/dot-dot above the root": {whyUWSGIDots, map[string]string{
		"PATH_INFO": "graft \"/../etc\", uwsgi \"/etc\"",
	}},
	"uwsgi/absolute form": {whyPeerAbsolute, map[string]string{
		"PATH_INFO": "graft \"/x\", uwsgi \"http://other.test/x\"",
	}},
	"tornado/absolute form": {whyPeerAbsolute, map[string]string{
		"PATH_INFO": "graft \"/x\", tornado \"http://other.test/x\"",
	}},
	"uwsgi/absolute form with port": {whyPeerAbsolute, map[string]string{
		"PATH_INFO": "graft \"/x\", uwsgi \"http://other.test:8080/x\"",
	}},
	"tornado/absolute form with port": {whyPeerAbsolute, map[string]string{
		"PATH_INFO": "graft \"/x\", tornado \"http://other.test:8080/x\"",
	}},
	"uwsgi/absolute form https": {whyPeerAbsolute, map[string]string{
		"PATH_INFO": "graft \"/x\", uwsgi \"https://other.test/x\"",
	}},
	"tornado/absolute form https": {whyPeerAbsolute, map[string]string{
		"PATH_INFO": "graft \"/x\", tornado \"https://other.test/x\"",
	}},
	"tornado/fragment": {whyPeerFragment, map[string]string{
		"PATH_INFO": "graft \"/q\", tornado \"/q#frag\"",
	}},
	"uwsgi/query and fragment": {whyPeerFragment, map[string]string{
		"QUERY_STRING": "graft \"x=1\", uwsgi \"x=1#frag\"",
	}},
	"tornado/query and fragment": {whyPeerFragment, map[string]string{
		"QUERY_STRING": "graft \"x=1\", tornado \"x=1#frag\"",
	}},
	"uwsgi/long path": {whyUWSGIBuffer, map[string]string{
		"error":     "graft \"\", uwsgi \"response 1: closed\"",
		"responses": "graft 1, uwsgi 0",
	}},
	"uwsgi/request line too long": {whyUWSGIBuffer, map[string]string{
		"error":     "graft \"\", uwsgi \"response 1: reset\"",
		"responses": "graft 1, uwsgi 0",
	}},
	"uwsgi/lower-case version": {whyUWSGIVersion, map[string]string{
		"error":     "graft \"\", uwsgi \"response 1: malformed HTTP version \\\"http/1.1\\\"\"",
		"responses": "graft 1, uwsgi 0",
	}},
	"uwsgi/two spaces in the request line": {whyUWSGIVersion, map[string]string{
		"error":     "graft \"\", uwsgi \"response 1: malformed HTTP status code \\\"HTTP/1.1\\\"\"",
		"responses": "graft 1, uwsgi 0",
	}},
	"uwsgi/empty lines before the request": {whyUWSGIEmptyLines, map[string]string{
		"HTTP_HOST":       "graft \"diffenv.test\", uwsgi (absent)",
		"PATH_INFO":       "graft \"/after\", uwsgi (absent)",
		"QUERY_STRING":    "graft \"\", uwsgi (absent)",
		"REQUEST_METHOD":  "graft \"GET\", uwsgi (absent)",
		"SERVER_NAME":     "graft (absent), uwsgi \"HOSTNAME\"",
		"SERVER_PORT":     "graft (absent), uwsgi \"PORT\"",
		"SERVER_PROTOCOL": "graft \"HTTP/1.1\", uwsgi (absent)",
		"close":           "graft false, uwsgi true",
	}},
	"uwsgi/two Accept": {whyUWSGIJoin, map[string]string{
		"HTTP_ACCEPT": "graft \"text/html,application/json\", uwsgi \"text/html, application/json\"",
	}},
	"uwsgi/two X-Foo": {whyUWSGIJoin, map[string]string{
		"HTTP_X_FOO": "graft \"1,2\", uwsgi \"1, 2\"",
	}},
	"uwsgi/X-Foo with a list and again": {whyUWSGIJoin, map[string]string{
		"HTTP_X_FOO": "graft \"1, 2,3\", uwsgi \"1, 2, 3\"",
	}},
	"uwsgi/long value": {whyUWSGIBuffer, map[string]string{
		"error":     "graft \"\", uwsgi \"response 1: reset\"",
		"responses": "graft 1, uwsgi 0",
	}},
	"uwsgi/space before the colon": {whyPeerColon, map[string]string{
		"status": "graft 400, uwsgi 200",
	}},
	"tornado/space before the colon": {whyPeerColon, map[string]string{
		"status": "graft 400, tornado 200",
	}},
	"uwsgi/space in the name": {whyPeerColon, map[string]string{
		"status": "graft 400, uwsgi 200",
	}},
	"tornado/space in the name": {whyPeerColon, map[string]string{
		"status": "graft 400, tornado 200",
	}},
	"uwsgi/field line too long": {whyUWSGIBuffer, map[string]string{
		"error":     "graft \"\", uwsgi \"response 1: reset\"",
		"responses": "graft 1, uwsgi 0",
	}},
	"uwsgi/two Authorization": {whyUWSGIJoin, map[string]string{
		"HTTP_AUTHORIZATION": "graft \"Basic dTpw,Bearer t\", uwsgi \"Basic dTpw, Bearer t\"",
	}},
	"uwsgi/absolute form on HTTP/1.0": {whyPeerAbsolute, map[string]string{
		"PATH_INFO": "graft \"/x\", uwsgi \"http://other.test/x\"",
	}},
	"tornado/absolute form on HTTP/1.0": {whyPeerAbsolute + "; " + whyTornado10, map[string]string{
		"PATH_INFO": "graft \"/x\", tornado \"http://other.test/x\"",
		"close":     "graft true, tornado false",
	}},
	"tornado/HTTP/1.0 POST": {whyTornado10, map[string]string{
		"close": "graft true, tornado false",
	}},
	"tornado/HTTP/1.0 POST without Content-Length": {whyTornado10, map[string]string{
		"close": "graft true, tornado false",
	}},
	"uwsgi/request line at the limit": {whyUWSGIBuffer, map[string]string{
		"error":     "graft \"\", uwsgi \"response 1: reset\"",
		"responses": "graft 1, uwsgi 0",
	}},
	"uwsgi/request line over the limit": {whyUWSGIBuffer, map[string]string{
		"error":     "graft \"\", uwsgi \"response 1: reset\"",
		"responses": "graft 1, uwsgi 0",
	}},
	"uwsgi/field line at the limit": {whyUWSGIBuffer, map[string]string{
		"error":     "graft \"\", uwsgi \"response 1: reset\"",
		"responses": "graft 1, uwsgi 0",
	}},
	"uwsgi/field line over the limit": {whyUWSGIBuffer, map[string]string{
		"error":     "graft \"\", uwsgi \"response 1: reset\"",
		"responses": "graft 1, uwsgi 0",
	}},
	"uwsgi/head over 64 KiB": {whyUWSGIBuffer, map[string]string{
		"error":     "graft \"\", uwsgi \"response 1: reset\"",
		"responses": "graft 1, uwsgi 0",
	}},
	"tornado/head over 64 KiB": {whyTornadoDrops, map[string]string{
		"error":     "graft \"\", tornado \"response 1: closed\"",
		"responses": "graft 1, tornado 0",
	}},
	"tornado/Host with a bad port": {whyTornadoDrops, map[string]string{
		"error":     "graft \"\", tornado \"response 1: closed\"",
		"responses": "graft 1, tornado 0",
	}},
	"uwsgi/Host empty": {whyPeerServerName, map[string]string{
		"SERVER_NAME": "graft \"127.0.0.1\", uwsgi \"HOSTNAME\"",
	}},
	"tornado/Host empty": {whyPeerServerName, map[string]string{
		"SERVER_PORT": "graft \"PORT\", tornado \"80\"",
	}},
	"uwsgi/HTTP/1.0 without Host": {whyPeerServerName, map[string]string{
		"SERVER_NAME": "graft \"127.0.0.1\", uwsgi \"HOSTNAME\"",
	}},
	"tornado/HTTP/1.0 without Host": {whyPeerServerName + "; " + whyTornado10, map[string]string{
		"SERVER_PORT": "graft \"PORT\", tornado \"80\"",
		"close":       "graft true, tornado false",
	}},
	"tornado/HTTP/1.0 with Host": {whyTornado10, map[string]string{
		"close": "graft true, tornado false",
	}},
	"uwsgi/HTTP/1.0 keep-alive": {whyUWSGIKeepAlive, map[string]string{
		"close": "graft false, uwsgi true",
	}},
	"tornado/HTTP/1.0 keep-alive": {whyTornado10, map[string]string{
		"#2 close": "graft true, tornado false",
	}},
	"uwsgi/HTTP/1.1 Connection close": {whyUWSGIKeepAlive, map[string]string{
		"close": "graft true, uwsgi false",
	}},
	"uwsgi/X-Forwarded-For and Proto": {whyUWSGIScheme, map[string]string{
		"wsgi.url_scheme": "graft \"http\", uwsgi \"https\"",
	}},
	"uwsgi/X-Forwarded-Ssl": {whyUWSGIScheme, map[string]string{
		"wsgi.url_scheme": "graft \"http\", uwsgi \"https\"",
	}},
	// The unix, tls, trusted and proxy runs.
	"uwsgi/unix/plain":                 {whyPeerUnixAddr, map[string]string{"REMOTE_ADDR": `graft "", uwsgi "0.0.0.0"`}},
	"uwsgi/unix/POST":                  {whyPeerUnixAddr, map[string]string{"REMOTE_ADDR": `graft "", uwsgi "0.0.0.0"`}},
	"uwsgi/unix/HTTP/1.0 without Host": {whyPeerUnixAddr, map[string]string{"REMOTE_ADDR": `graft "", uwsgi "0.0.0.0"`}},
	"uwsgi/unix/X-Forwarded-For":       {whyPeerUnixAddr, map[string]string{"REMOTE_ADDR": `graft "", uwsgi "0.0.0.0"`}},
	"tornado/unix/plain":               {whyPeerUnixAddr, map[string]string{"REMOTE_ADDR": `graft "", tornado "0.0.0.0"`}},
	"tornado/unix/POST":                {whyPeerUnixAddr, map[string]string{"REMOTE_ADDR": `graft "", tornado "0.0.0.0"`}},
	"tornado/unix/X-Forwarded-For":     {whyPeerUnixAddr, map[string]string{"REMOTE_ADDR": `graft "", tornado "0.0.0.0"`}},
	"tornado/unix/HTTP/1.0 without Host": {whyPeerUnixAddr + "; " + whyTornado10, map[string]string{
		"REMOTE_ADDR": `graft "", tornado "0.0.0.0"`,
		"close":       "graft true, tornado false",
	}},
	"uwsgi/tls/HTTP/1.0 without Host": {whyPeerServerName, map[string]string{
		"SERVER_NAME": "graft \"127.0.0.1\", uwsgi \"HOSTNAME\"",
	}},
	"tornado/tls/HTTP/1.0 without Host": {whyPeerServerName + "; " + whyTornado10, map[string]string{
		"SERVER_PORT": "graft \"PORT\", tornado \"443\"",
		"close":       "graft true, tornado false",
	}},
	"uwsgi/tls/Host without port": {whyUWSGIScheme + "; over TLS a client's X-Forwarded-Proto: http makes it " +
		"http, so the app builds http URLs to a server that serves only https", map[string]string{
		"wsgi.url_scheme": "graft \"https\", uwsgi \"http\"",
	}},
	"tornado/trusted/X-Forwarded-Ssl on": {whyTornadoXheaders, map[string]string{
		"wsgi.url_scheme": "graft \"https\", tornado \"http\"",
	}},
	"uwsgi/trusted/X-Forwarded-Protocol ssl": {whyPeerProtocol, map[string]string{
		"wsgi.url_scheme": "graft \"https\", uwsgi \"http\"",
	}},
	"tornado/trusted/X-Forwarded-Protocol ssl": {whyPeerProtocol, map[string]string{
		"wsgi.url_scheme": "graft \"https\", tornado \"http\"",
	}},
	"uwsgi/trusted/contradicting": {whyPeerContradicting, map[string]string{
		"status": "graft 400, uwsgi 200",
	}},
	"tornado/trusted/contradicting": {whyPeerContradicting, map[string]string{
		"status": "graft 400, tornado 200",
	}},
	"uwsgi/proxy/v1 TCP4": {whyUWSGIServerAddr, map[string]string{
		"SERVER_ADDR": "graft (absent), uwsgi \"10.0.0.1\"",
	}},
	"uwsgi/proxy/v1 TCP6": {whyUWSGIServerAddr, map[string]string{
		"SERVER_ADDR": "graft (absent), uwsgi \"2001:db8::1\"",
	}},
	"uwsgi/proxy/v1 and X-Forwarded-For": {whyUWSGIServerAddr + "; " + whyUWSGIScheme, map[string]string{
		"SERVER_ADDR":     "graft (absent), uwsgi \"10.0.0.1\"",
		"wsgi.url_scheme": "graft \"http\", uwsgi \"https\"",
	}},
	"uwsgi/proxy/v2 TCP4": {"uWSGI reads the PROXY protocol's v1 only: on a v2 header it runs the app with " +
		"no method, path or version (as for empty lines before a request line) and the load balancer's address; " +
		"graft reads v2", map[string]string{
		"HTTP_HOST":       "graft \"diffenv.test\", uwsgi (absent)",
		"PATH_INFO":       "graft \"/\", uwsgi (absent)",
		"QUERY_STRING":    "graft \"\", uwsgi (absent)",
		"REMOTE_ADDR":     "graft \"203.0.113.7\", uwsgi \"127.0.0.1\"",
		"REQUEST_METHOD":  "graft \"GET\", uwsgi (absent)",
		"SERVER_NAME":     "graft (absent), uwsgi \"HOSTNAME\"",
		"SERVER_PORT":     "graft (absent), uwsgi \"PORT\"",
		"SERVER_PROTOCOL": "graft \"HTTP/1.1\", uwsgi (absent)",
		"close":           "graft false, uwsgi true",
	}},
	// uWSGI 2.0 reads the PROXY header inside TLS (--https-socket), as gunicorn 20 does: it is sent there
	// (comparePeerEnv), and the cases with the header before TLS compare the app's environ.
	"uwsgi/proxy tls/v1 TCP4 before TLS": {whyUWSGIServerAddr, map[string]string{
		"SERVER_ADDR": "graft (absent), uwsgi \"10.0.0.1\"",
	}},
	"uwsgi/proxy tls/v1 TCP6 before TLS": {whyUWSGIServerAddr, map[string]string{
		"SERVER_ADDR": "graft (absent), uwsgi \"2001:db8::1\"",
	}},
	"uwsgi/proxy tls/v1 and X-Forwarded-Proto http before TLS": {whyUWSGIServerAddr + "; " + whyUWSGIScheme +
		": over TLS a client's X-Forwarded-Proto: http makes it http", map[string]string{
		"SERVER_ADDR":     "graft (absent), uwsgi \"10.0.0.1\"",
		"wsgi.url_scheme": "graft \"https\", uwsgi \"http\"",
	}},
	"uwsgi/proxy tls/v2 TCP4 before TLS": {"as uwsgi/proxy/v2 TCP4: uWSGI reads v1 only", map[string]string{
		"HTTP_HOST":       "graft \"diffenv.test\", uwsgi (absent)",
		"PATH_INFO":       "graft \"/\", uwsgi (absent)",
		"QUERY_STRING":    "graft \"\", uwsgi (absent)",
		"REMOTE_ADDR":     "graft \"203.0.113.7\", uwsgi \"127.0.0.1\"",
		"REQUEST_METHOD":  "graft \"GET\", uwsgi (absent)",
		"SERVER_NAME":     "graft (absent), uwsgi \"HOSTNAME\"",
		"SERVER_PORT":     "graft (absent), uwsgi \"PORT\"",
		"SERVER_PROTOCOL": "graft \"HTTP/1.1\", uwsgi (absent)",
		"close":           "graft false, uwsgi true",
	}},
	"uwsgi/proxy/v1 pipelined": {whyUWSGIServerAddr, map[string]string{
		"SERVER_ADDR": "graft (absent), uwsgi \"10.0.0.1\"",
	}},
	"uwsgi/POST readline(4)": {whyUWSGIReadline, map[string]string{
		"chunks": "graft [4,4,4,2,1,4,4,4,4,4], uwsgi [4,10,1,20]",
	}},
	"uwsgi/POST read(None)": {whyUWSGIReadNone, map[string]string{
		"body":   "graft \"one\\ntwo lines\\n\\nlast without newline\", uwsgi \"\"",
		"chunks": "graft [35], uwsgi []",
		"error":  "graft null, uwsgi \"TypeError\"",
	}},
	"uwsgi/POST read(0)": {whyUWSGIRead0, map[string]string{
		"chunks": "graft [0,35], uwsgi [35,0]",
	}},
	"uwsgi/POST mixed reads": {whyUWSGIReadline, map[string]string{
		"chunks": "graft [4,2,2,27], uwsgi [4,2,8,21]",
	}},
	"uwsgi/spooled body readline(4)": {whyUWSGIReadline, map[string]string{
		"chunks": "graft [3,4,4,1,4,2,4,3,4,4,4,4,1,4,4,2,4,4,3,4,4,4,4,4,4,2,4… (36013 bytes, sha256 3120c7388636a04de8a73031), uwsgi [3,4,5,6,7,8,9,10,11,12,14,15,16,17,18,19,20,21,22,23,24,25,… (3962 bytes, sha256 7ec98edb5e781267e46bb641)",
	}},
	"uwsgi/spooled body read(0)": {whyUWSGIRead0, map[string]string{
		"chunks": "graft [0,90000], uwsgi [90000,0]",
	}},
	"uwsgi/spooled chunked body": {whyUWSGIChunked, map[string]string{
		"body":   "graft \"0 \\n1 x\\n2 xx\\n3 xxx\\n4 xxxx\\n5 xxxxx\\n6 xxxxxx\\n7 xx… (101902 bytes, sha256 3ffd31a15e7d39a987281d56), uwsgi \"\"",
		"chunks": "graft [3,4,5,6,7,8,9,10,11,12,14,15,16,17,18,19,20,21,22,23,… (5644 bytes, sha256 003f0bdcde9b1e433d0a076a), uwsgi []",
	}},
	"uwsgi/Content-Length twice, same": {whyPeerLength, map[string]string{
		"status": "graft 400, uwsgi 200",
	}},
	"tornado/Content-Length twice, same": {whyPeerLength, map[string]string{
		"status": "graft 400, tornado 200",
	}},
	"uwsgi/chunked": {whyUWSGIChunked, map[string]string{
		"body":   "graft \"hello world\", uwsgi \"\"",
		"chunks": "graft [11], uwsgi [0]",
	}},
	"uwsgi/chunked upper-case hex": {whyUWSGIChunked, map[string]string{
		"body":   "graft \"0123456789\", uwsgi \"\"",
		"chunks": "graft [10], uwsgi [0]",
	}},
	"uwsgi/chunked extension": {whyUWSGIChunked, map[string]string{
		"body":   "graft \"hello\", uwsgi \"\"",
		"chunks": "graft [5], uwsgi [0]",
	}},
	"tornado/chunked extension": {whyTornadoDrops, map[string]string{
		"error":     "graft \"\", tornado \"response 1: closed\"",
		"responses": "graft 1, tornado 0",
	}},
	"uwsgi/chunked trailer": {whyUWSGIChunked, map[string]string{
		"body":   "graft \"hello\", uwsgi \"\"",
		"chunks": "graft [5], uwsgi [0]",
	}},
	"tornado/chunked trailer": {whyTornadoTrailer, map[string]string{
		"status": "graft 200, tornado 400",
	}},
	"uwsgi/chunked read(3)": {whyUWSGIChunked, map[string]string{
		"body":   "graft \"one\\ntwo\\nthree\", uwsgi \"\"",
		"chunks": "graft [3,3,3,3,1], uwsgi []",
	}},
	"uwsgi/chunked readline": {whyUWSGIChunked, map[string]string{
		"body":   "graft \"one\\ntwo\\nthree\", uwsgi \"\"",
		"chunks": "graft [4,4,5], uwsgi []",
	}},
	"uwsgi/chunked iteration": {whyUWSGIChunked, map[string]string{
		"body":   "graft \"one\\ntwo\\nthree\", uwsgi \"\"",
		"chunks": "graft [4,4,5], uwsgi []",
	}},
	"uwsgi/chunked with Content-Length": {whyPeerCLTE, map[string]string{
		"status": "graft 400, uwsgi 200",
	}},
	"uwsgi/Content-Length negative": {whyPeerLength, map[string]string{
		"status": "graft 400, uwsgi 200",
	}},
	"tornado/Content-Length negative": {whyPeerLength, map[string]string{
		"status": "graft 400, tornado 200",
	}},
	"uwsgi/Content-Length list": {whyPeerLength, map[string]string{
		"status": "graft 400, uwsgi 200",
	}},
	"tornado/Content-Length list": {whyPeerLength, map[string]string{
		"status": "graft 400, tornado 200",
	}},
	"uwsgi/chunk size with leading zeros": {whyUWSGIChunked, map[string]string{
		"body":   "graft \"hello\", uwsgi \"\"",
		"chunks": "graft [5], uwsgi [0]",
	}},
	"tornado/bad chunk size": {whyTornadoDrops, map[string]string{
		"error":     "graft \"\", tornado \"response 1: closed\"",
		"responses": "graft 1, tornado 0",
	}},
	"uwsgi/chunked on HTTP/1.0": {whyPeerTE10, map[string]string{
		"status": "graft 400, uwsgi 200",
	}},
	"tornado/chunked on HTTP/1.0": {whyPeerTE10, map[string]string{
		"status": "graft 400, tornado 200",
	}},
	"uwsgi/Expect 100-continue": {whyUWSGIExpect, map[string]string{
		"100-continue": "graft true, uwsgi false",
	}},
	"uwsgi/Expect 100-continue chunked": {whyUWSGIExpect + "; " + whyUWSGIChunked, map[string]string{
		"100-continue": "graft true, uwsgi false",
		"body":         "graft \"hello\", uwsgi \"\"",
		"chunks":       "graft [5], uwsgi [0]",
	}},
	// The cases added to the gunicorn corpus on 2026-12-02 (pipelined
	// Expect, trailers, the query limit, absolute-form targets).
	"uwsgi/Expect 100-continue pipelined": {whyUWSGIExpect, map[string]string{
		"100-continue": "graft true, uwsgi false",
	}},
	"uwsgi/Expect 100-continue chunked with a trailer, pipelined": {whyUWSGIExpect + "; " + whyUWSGIChunked, map[string]string{
		"100-continue": "graft true, uwsgi false",
		"body":         "graft \"hello\", uwsgi \"\"",
		"chunks":       "graft [5], uwsgi [0]",
	}},
	"tornado/Expect 100-continue chunked with a trailer, pipelined": {whyTornadoTrailer, map[string]string{
		"status": "graft 200, tornado 400",
	}},
	"uwsgi/chunked with a Trailer field": {whyUWSGIChunked, map[string]string{
		"body":   "graft \"hello\", uwsgi \"\"",
		"chunks": "graft [5], uwsgi [0]",
	}},
	"tornado/chunked with a Trailer field": {whyTornadoTrailer, map[string]string{
		"status": "graft 200, tornado 400",
	}},
	"uwsgi/query at the limit": {whyUWSGIBuffer, map[string]string{
		"error":     "graft \"\", uwsgi \"response 1: reset\"",
		"responses": "graft 1, uwsgi 0",
	}},
	"uwsgi/query over the limit": {whyUWSGIBuffer, map[string]string{
		"error":     "graft \"\", uwsgi \"response 1: reset\"",
		"responses": "graft 1, uwsgi 0",
	}},
	"uwsgi/absolute form with an escaped slash": {whyPeerAbsolute, map[string]string{
		"PATH_INFO": "graft \"/p/q\", uwsgi \"http://other.test/p/q\"",
	}},
	"tornado/absolute form with an escaped slash": {whyPeerAbsolute, map[string]string{
		"PATH_INFO": "graft \"/p/q\", tornado \"http://other.test/p/q\"",
	}},
	"uwsgi/absolute form with an IPv6 host": {whyPeerAbsolute, map[string]string{
		"PATH_INFO": "graft \"/x\", uwsgi \"http://[::1]:8080/x\"",
	}},
	"tornado/absolute form with an IPv6 host": {whyPeerAbsolute, map[string]string{
		"PATH_INFO": "graft \"/x\", tornado \"http://[::1]:8080/x\"",
	}},
}

// peerNormalise is normalise for a peer's answer: the Server header a
// peer adds of its own is dropped, as gunicorn's is.
func peerNormalise(a rawAnswer) rawAnswer {
	a.header = slices.DeleteFunc(slices.Clone(a.header), func(f string) bool {
		return strings.HasPrefix(f, "server: TornadoServer/")
	})
	return normalise(a)
}

// TestResponseDifferentialPeers sends diffrespCases to wsgiserve, uWSGI
// and Tornado and compares the raw answers, as TestResponseDifferential
// does with gunicorn.
func TestResponseDifferentialPeers(t *testing.T) {
	bin := opstest.Build(t, "wsgiserve")
	dir, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	addrs := map[string]string{}
	for _, p := range diffpeers {
		addrs[p.name] = p.start(t, diffenvRun{}, dir, "diffresp_app:app", "", "")
	}
	s := startCmd(t, exec.Command(bin, "-bind", "127.0.0.1:0", "-python", pythontest.Python(t), "diffresp_app:app",
		"-chdir", dir, "-workers", "1", "-threads", "1", "-access-log=false", "-graceful-timeout", "5"), false)
	graft := strings.TrimPrefix(s.url, "http://")
	for _, p := range diffpeers {
		waitUp(t, p.name, addrs[p.name], "/ping")
	}
	for _, tc := range diffrespCases {
		for _, mode := range tc.requests() {
			key := tc.path + " " + string(mode)
			t.Run(strings.ReplaceAll(strings.TrimPrefix(key, "/"), "/", " "), func(t *testing.T) {
				g, err := exchange(graft, tc.path, mode, diffrespNext[tc.path])
				if err != nil {
					t.Fatalf("wsgiserve: %v (%v)", err, g)
				}
				g = normalise(g)
				g.status = statusCode(g.status)
				gs := g.String()
				if known, ok := diffrespKnown[key]; ok && gs == known.graft {
					return // decided against gunicorn
				}
				for _, p := range diffpeers {
					u, err := exchangeWithin(addrs[p.name], tc.path, mode, diffrespNext[tc.path], diffpeersWait)
					// shown is graft's answer as compared with the peer's
					// us, after the rules.
					shown, us := gs, ""
					if err != nil {
						us = fmt.Sprintf("error: %v (%v)", err, u)
					} else {
						u = peerNormalise(u)
						g := g
						for _, r := range diffrespRules {
							r.apply(mode, &g, &u)
						}
						u.interim, g.interim = statusCode(u.interim), statusCode(g.interim)
						for _, r := range diffpeersRules {
							r.apply(p.name, mode, &g, &u)
						}
						if shown, us = g.String(), u.String(); shown == us {
							continue
						}
					}
					if known, ok := diffpeersRespKnown[p.name+" "+key]; ok {
						if gs != known.graft {
							t.Errorf("known difference with %s (%s) changed:\nwsgiserve:\n%s\nlisted:\n%s\n%s:\n%s",
								p.name, known.why, gs, known.graft, p.name, us)
						}
						continue
					}
					t.Errorf("differs from %s (%q, wsgiserve %q):\nwsgiserve:\n%s\n%s:\n%s", p.name, p.name+" "+key, gs, shown, p.name, us)
				}
			})
		}
	}
}

// diffpeersRules are the differences with a peer that hold for every case,
// each with its reason, applied after diffrespRules.
var diffpeersRules = []struct {
	why   string
	apply func(peer string, mode diffrespMode, g, u *rawAnswer)
}{{
	why: "graft (net/http) sends Date, as RFC 9110 §6.6.1 asks of a server with a clock; uWSGI and Tornado's " +
		"WSGIContainer send none unless the app does",
	apply: func(_ string, _ diffrespMode, g, u *rawAnswer) {
		if !slices.ContainsFunc(u.header, isDate) {
			g.header = slices.DeleteFunc(slices.Clone(g.header), isDate)
		}
	},
}, {
	why: whyUWSGIKeepAlive,
	apply: func(peer string, _ diffrespMode, g, u *rawAnswer) {
		if peer == "uwsgi" && u.next == "closed" {
			u.next = g.next
		}
	},
}, {
	why: whyTornado10,
	apply: func(peer string, mode diffrespMode, g, u *rawAnswer) {
		if peer == "tornado" && strings.Contains(string(mode), "/1.0") && strings.HasPrefix(u.status, "HTTP/1.1 ") &&
			strings.HasPrefix(g.status, "HTTP/1.0 ") {
			u.status = "HTTP/1.0 " + strings.TrimPrefix(u.status, "HTTP/1.1 ")
		}
	},
}}

func isDate(f string) bool { return strings.HasPrefix(f, "date: ") }

// diffpeersRespKnown are the differences on purpose of one case with one
// peer: "peer path mode" to wsgiserve's answer (normalised, status
// without its reason) and why it differs from the peer's.
var diffpeersRespKnown = map[string]struct{ graft, why string }{
	"tornado /ping HEAD/1.1":                     {"HTTP/1.1 200\n  content-length: 4\n  content-type: text/plain\n  date: <now>\n  framing=none body=\"\" end=complete next=pong", whyTornadoHead},
	"tornado /ping HEAD/1.0 keep-alive":          {"HTTP/1.0 200\n  content-length: 4\n  content-type: text/plain\n  date: <now>\n  framing=none body=\"\" end=complete next=pong", whyTornadoHead},
	"tornado /status-noreason GET/1.1":           {"HTTP/1.1 200\n  content-length: 5\n  content-type: text/plain\n  date: <now>\n  framing=length body=\"hello\" end=complete next=pong", whyTornadoNoReason},
	"tornado /status-204 GET/1.1":                {"HTTP/1.1 204\n  date: <now>\n  framing=none body=\"\" end=complete next=pong", whyTornado204},
	"tornado /status-204-body GET/1.1":           {"HTTP/1.1 204\n  content-type: text/plain\n  date: <now>\n  framing=none body=\"\" end=complete next=pong", whyTornado204},
	"tornado /status-204-body GET/1.1 pipelined": {"HTTP/1.1 204\n  content-type: text/plain\n  date: <now>\n  framing=none body=\"\" end=complete next=pong", whyTornado204},
	"tornado /status-304-body GET/1.1":           {"HTTP/1.1 304\n  date: <now>\n  etag: \"x\"\n  framing=none body=\"\" end=complete next=pong", whyTornado304},
	"tornado /hdr-setcookie-dup HEAD/1.1":        {"HTTP/1.1 200\n  content-length: 5\n  content-type: text/plain\n  date: <now>\n  set-cookie: a=1; Path=/\n  set-cookie: b=2; Path=/\n  framing=none body=\"\" end=complete next=pong", whyTornadoHead},
	"uwsgi /hdr-spaces GET/1.1":                  {"HTTP/1.1 200\n  content-length: 5\n  content-type: text/plain\n  date: <now>\n  x-in: a  b\n  x-pad: padded\n  framing=length body=\"hello\" end=complete next=pong", whyPeerTrim},
	"tornado /hdr-spaces GET/1.1":                {"HTTP/1.1 200\n  content-length: 5\n  content-type: text/plain\n  date: <now>\n  x-in: a  b\n  x-pad: padded\n  framing=length body=\"hello\" end=complete next=pong", whyPeerTrim},
	"uwsgi /hdr-tab GET/1.1":                     {"HTTP/1.1 200\n  content-length: 5\n  content-type: text/plain\n  date: <now>\n  x-tab: a\tb\n  framing=length body=\"hello\" end=complete next=pong", whyPeerTrim},
	"tornado /hdr-tab GET/1.1":                   {"HTTP/1.1 200\n  content-length: 5\n  content-type: text/plain\n  date: <now>\n  x-tab: a\tb\n  framing=length body=\"hello\" end=complete next=pong", whyPeerTrim},
	"tornado /cl-short GET/1.1":                  {"HTTP/1.1 200\n  content-length: 3\n  content-type: text/plain\n  date: <now>\n  framing=length body=\"hel\" end=complete next=pong", whyTornadoLength},
	"tornado /cl-short GET/1.0 keep-alive":       {"HTTP/1.0 200\n  content-length: 3\n  content-type: text/plain\n  date: <now>\n  framing=length body=\"hel\" end=complete next=pong", whyTornadoLength},
	"tornado /cl-short GET/1.1 pipelined":        {"HTTP/1.1 200\n  content-length: 3\n  content-type: text/plain\n  date: <now>\n  framing=length body=\"hel\" end=complete next=pong", whyTornadoLength},
	"tornado /cl-long HEAD/1.1":                  {"HTTP/1.1 200\n  content-length: 10\n  content-type: text/plain\n  date: <now>\n  framing=none body=\"\" end=complete next=pong", whyTornadoHead},
	"uwsgi /cl-spaces GET/1.1":                   {"HTTP/1.1 200\n  content-length: 5\n  content-type: text/plain\n  date: <now>\n  framing=length body=\"hello\" end=complete next=pong", whyPeerTrim},
	"tornado /cl-spaces GET/1.1":                 {"HTTP/1.1 200\n  content-length: 5\n  content-type: text/plain\n  date: <now>\n  framing=length body=\"hello\" end=complete next=pong", whyPeerTrim},
	"tornado /cl-zero-body GET/1.1":              {"HTTP/1.1 200\n  content-length: 0\n  content-type: text/plain\n  date: <now>\n  framing=length body=\"\" end=complete next=pong", whyTornadoLength},
	"tornado /cl-gen HEAD/1.1":                   {"HTTP/1.1 200\n  content-length: 6\n  content-type: text/plain\n  date: <now>\n  framing=none body=\"\" end=complete next=pong", whyTornadoHead},
	"tornado /no-ctype GET/1.1":                  {"HTTP/1.1 200\n  content-length: 28\n  date: <now>\n  framing=length body=\"<html><body>hi</body></html>\" end=complete next=pong", whyTornadoCtype},
	"tornado /no-ctype HEAD/1.1":                 {"HTTP/1.1 200\n  content-length: 28\n  date: <now>\n  framing=none body=\"\" end=complete next=pong", whyTornadoHead},
	"tornado /no-ctype-gen GET/1.1":              {"HTTP/1.1 200\n  content-length: 28\n  date: <now>\n  framing=length body=\"<html><body>hi</body></html>\" end=complete next=pong", whyTornadoCtype},
	"tornado /no-ctype-empty GET/1.1":            {"HTTP/1.1 200\n  content-length: 0\n  date: <now>\n  framing=length body=\"\" end=complete next=pong", whyTornadoCtype},
	"tornado /empty-list HEAD/1.1":               {"HTTP/1.1 200\n  content-type: text/plain\n  date: <now>\n  framing=none body=\"\" end=complete next=pong", whyHeadLength},
	"tornado /gen HEAD/1.1":                      {"HTTP/1.1 200\n  content-type: text/plain\n  date: <now>\n  framing=none body=\"\" end=complete next=pong", whyTornadoHead},
	"tornado /gen GET/1.0 keep-alive":            {"HTTP/1.0 200\n  content-length: 4\n  content-type: text/plain\n  date: <now>\n  framing=length body=\"abcd\" end=complete next=closed", whyTornado10Stream},
	"tornado /gen HEAD/1.0 keep-alive":           {"HTTP/1.0 200\n  content-type: text/plain\n  date: <now>\n  framing=none body=\"\" end=complete next=pong", whyTornadoHead},
	"uwsgi /gen-raise-before GET/1.1":            {"HTTP/1.1 500\n  content-length: 22\n  content-type: text/plain; charset=utf-8\n  date: <now>\n  x-content-type-options: nosniff\n  framing=length body=\"Internal Server Error\\n\" end=complete next=pong", whyUWSGIEmpty200},
	"tornado /gen-raise-before GET/1.1":          {"HTTP/1.1 500\n  content-length: 22\n  content-type: text/plain; charset=utf-8\n  date: <now>\n  x-content-type-options: nosniff\n  framing=length body=\"Internal Server Error\\n\" end=complete next=pong", whyPeerNoAnswer},
	"uwsgi /gen-raise-before GET/1.0":            {"HTTP/1.0 500\n  content-length: 22\n  content-type: text/plain; charset=utf-8\n  date: <now>\n  x-content-type-options: nosniff\n  framing=length body=\"Internal Server Error\\n\" end=complete next=closed", whyUWSGIEmpty200},
	"tornado /gen-raise-before GET/1.0":          {"HTTP/1.0 500\n  content-length: 22\n  content-type: text/plain; charset=utf-8\n  date: <now>\n  x-content-type-options: nosniff\n  framing=length body=\"Internal Server Error\\n\" end=complete next=closed", whyPeerNoAnswer},
	"uwsgi /gen-raise-after GET/1.1":             {"HTTP/1.1 200\n  content-type: text/plain\n  date: <now>\n  transfer-encoding: chunked\n  framing=chunked body=\"ab\" end=eof in chunk size next=closed", whyUWSGICut},
	"tornado /gen-raise-after GET/1.1":           {"HTTP/1.1 200\n  content-type: text/plain\n  date: <now>\n  transfer-encoding: chunked\n  framing=chunked body=\"ab\" end=eof in chunk size next=closed", whyPeerNoAnswer},
	"uwsgi /gen-raise-after GET/1.1 pipelined":   {"HTTP/1.1 200\n  content-type: text/plain\n  date: <now>\n  transfer-encoding: chunked\n  framing=chunked body=\"ab\" end=eof in chunk size next=closed", whyUWSGICut},
	"tornado /gen-raise-after GET/1.1 pipelined": {"HTTP/1.1 200\n  content-type: text/plain\n  date: <now>\n  transfer-encoding: chunked\n  framing=chunked body=\"ab\" end=eof in chunk size next=closed", whyPeerNoAnswer},
	"tornado /gen-raise-after-cl GET/1.1":        {"HTTP/1.1 200\n  content-length: 4\n  content-type: text/plain\n  date: <now>\n  framing=length body=\"ab\" end=eof after 2 of 4 bytes next=closed", whyPeerNoAnswer},
	"uwsgi /raise GET/1.1":                       {"HTTP/1.1 500\n  content-length: 22\n  content-type: text/plain; charset=utf-8\n  date: <now>\n  x-content-type-options: nosniff\n  framing=length body=\"Internal Server Error\\n\" end=complete next=pong", whyPeerNoAnswer},
	"tornado /raise GET/1.1":                     {"HTTP/1.1 500\n  content-length: 22\n  content-type: text/plain; charset=utf-8\n  date: <now>\n  x-content-type-options: nosniff\n  framing=length body=\"Internal Server Error\\n\" end=complete next=pong", whyPeerNoAnswer},
	"uwsgi /raise HEAD/1.1":                      {"HTTP/1.1 500\n  content-length: 22\n  content-type: text/plain; charset=utf-8\n  date: <now>\n  x-content-type-options: nosniff\n  framing=none body=\"\" end=complete next=pong", whyPeerNoAnswer},
	"tornado /raise HEAD/1.1":                    {"HTTP/1.1 500\n  content-length: 22\n  content-type: text/plain; charset=utf-8\n  date: <now>\n  x-content-type-options: nosniff\n  framing=none body=\"\" end=complete next=pong", whyTornadoHead},
	"uwsgi /raise POST/1.1 body":                 {"HTTP/1.1 500\n  content-length: 22\n  content-type: text/plain; charset=utf-8\n  date: <now>\n  x-content-type-options: nosniff\n  framing=length body=\"Internal Server Error\\n\" end=complete next=pong", whyPeerNoAnswer},
	"tornado /raise POST/1.1 body":               {"HTTP/1.1 500\n  content-length: 22\n  content-type: text/plain; charset=utf-8\n  date: <now>\n  x-content-type-options: nosniff\n  framing=length body=\"Internal Server Error\\n\" end=complete next=pong", whyPeerNoAnswer},
	"uwsgi /start-twice GET/1.1":                 {"HTTP/1.1 500\n  content-length: 22\n  content-type: text/plain; charset=utf-8\n  date: <now>\n  x-content-type-options: nosniff\n  framing=length body=\"Internal Server Error\\n\" end=complete next=pong", whyPeerStartTwice},
	"tornado /start-twice GET/1.1":               {"HTTP/1.1 500\n  content-length: 22\n  content-type: text/plain; charset=utf-8\n  date: <now>\n  x-content-type-options: nosniff\n  framing=length body=\"Internal Server Error\\n\" end=complete next=pong", whyPeerStartTwice},
	"uwsgi /exc-info-after GET/1.1":              {"HTTP/1.1 200\n  content-type: text/plain\n  date: <now>\n  transfer-encoding: chunked\n  framing=chunked body=\"partial\" end=eof in chunk size next=closed", whyUWSGICut},
	"tornado /exc-info-after GET/1.1":            {"HTTP/1.1 200\n  content-type: text/plain\n  date: <now>\n  transfer-encoding: chunked\n  framing=chunked body=\"partial\" end=eof in chunk size next=closed", whyTornadoExcInfo},
	"uwsgi /none-body GET/1.1":                   {"HTTP/1.1 500\n  content-length: 22\n  content-type: text/plain; charset=utf-8\n  date: <now>\n  x-content-type-options: nosniff\n  framing=length body=\"Internal Server Error\\n\" end=complete next=pong", whyUWSGIEmpty200},
	"tornado /none-body GET/1.1":                 {"HTTP/1.1 500\n  content-length: 22\n  content-type: text/plain; charset=utf-8\n  date: <now>\n  x-content-type-options: nosniff\n  framing=length body=\"Internal Server Error\\n\" end=complete next=pong", whyPeerNoAnswer},
	"uwsgi /no-start GET/1.1":                    {"HTTP/1.1 500\n  content-length: 22\n  content-type: text/plain; charset=utf-8\n  date: <now>\n  x-content-type-options: nosniff\n  framing=length body=\"Internal Server Error\\n\" end=complete next=pong", whyPeerNoAnswer},
	"tornado /no-start GET/1.1":                  {"HTTP/1.1 500\n  content-length: 22\n  content-type: text/plain; charset=utf-8\n  date: <now>\n  x-content-type-options: nosniff\n  framing=length body=\"Internal Server Error\\n\" end=complete next=pong", whyPeerNoAnswer},
	"tornado /cl-zero-gen GET/1.1":               {"HTTP/1.1 200\n  content-length: 0\n  content-type: text/plain\n  date: <now>\n  framing=length body=\"\" end=complete next=pong", whyTornadoLength},
	"uwsgi /read-body POST/1.1 chunked":          {"HTTP/1.1 200\n  content-length: 11\n  content-type: text/plain\n  date: <now>\n  framing=length body=\"hello=world\" end=complete next=pong", whyUWSGIChunked},
	"uwsgi /read-body POST/1.1 expect":           {"HTTP/1.1 100 Continue then HTTP/1.1 200\n  content-length: 11\n  content-type: text/plain\n  date: <now>\n  framing=length body=\"hello=world\" end=complete next=pong", whyUWSGIExpect},
	"tornado /status-204 GET/1.0":                {"HTTP/1.0 204\n  date: <now>\n  framing=none body=\"\" end=complete next=closed", whyTornado204},
	"tornado /status-204 HEAD/1.1":               {"HTTP/1.1 204\n  date: <now>\n  framing=none body=\"\" end=complete next=pong", whyTornado204},
	"tornado /start-in-gen HEAD/1.1":             {"HTTP/1.1 200\n  content-type: text/plain\n  date: <now>\n  framing=none body=\"\" end=complete next=pong", whyTornadoHead},
	"tornado /fw-empty GET/1.1":                  {"HTTP/1.1 200\n  content-length: 0\n  content-type: text/plain\n  date: <now>\n  framing=length body=\"\" end=complete next=pong", whyTornadoFileWrapper},
	"tornado /fw-empty HEAD/1.1":                 {"HTTP/1.1 200\n  content-type: text/plain\n  date: <now>\n  framing=none body=\"\" end=complete next=pong", whyTornadoFileWrapper},
	"tornado /fw-empty GET/1.0":                  {"HTTP/1.0 200\n  content-length: 0\n  content-type: text/plain\n  date: <now>\n  framing=length body=\"\" end=complete next=closed", whyTornadoFileWrapper},
	"tornado /fw-bytesio HEAD/1.1":               {"HTTP/1.1 200\n  content-type: text/plain\n  date: <now>\n  framing=none body=\"\" end=complete next=pong", whyTornadoFileWrapper},
	"uwsgi /gen-raise-before HEAD/1.1":           {"HTTP/1.1 500\n  content-length: 22\n  content-type: text/plain; charset=utf-8\n  date: <now>\n  x-content-type-options: nosniff\n  framing=none body=\"\" end=complete next=pong", whyUWSGIEmpty200},
	"tornado /gen-raise-before HEAD/1.1":         {"HTTP/1.1 500\n  content-length: 22\n  content-type: text/plain; charset=utf-8\n  date: <now>\n  x-content-type-options: nosniff\n  framing=none body=\"\" end=complete next=pong", whyTornadoHead},
	"tornado /fw-file GET/1.1":                   {"HTTP/1.1 200\n  content-length: 18\n  content-type: text/plain\n  date: <now>\n  framing=length body=\"file wrapper body\\n\" end=complete next=pong", whyTornadoFileWrapper},
	"tornado /fw-file HEAD/1.1":                  {"HTTP/1.1 200\n  content-length: 18\n  content-type: text/plain\n  date: <now>\n  framing=none body=\"\" end=complete next=pong", whyTornadoFileWrapper},
	"tornado /fw-file GET/1.0":                   {"HTTP/1.0 200\n  content-length: 18\n  content-type: text/plain\n  date: <now>\n  framing=length body=\"file wrapper body\\n\" end=complete next=closed", whyTornadoFileWrapper},
	"tornado /fw-file-cl GET/1.1":                {"HTTP/1.1 200\n  content-length: 4\n  content-type: text/plain\n  date: <now>\n  framing=length body=\"file\" end=complete next=pong", whyTornadoFileWrapper},
	"tornado /fw-bytesio GET/1.1":                {"HTTP/1.1 200\n  content-length: 12\n  content-type: text/plain\n  date: <now>\n  framing=length body=\"from bytesio\" end=complete next=pong", whyTornadoFileWrapper},
	"tornado /fw-bytesio GET/1.0":                {"HTTP/1.0 200\n  content-length: 12\n  content-type: text/plain\n  date: <now>\n  framing=length body=\"from bytesio\" end=complete next=closed", whyTornadoFileWrapper},
}

// Reasons of diffpeersRespKnown (docs/operations.md, "Differences from
// other WSGI servers").
const (
	whyPeerTrim = "graft sends a header value without the whitespace at its edges (RFC 9110 §5.5: not part of " +
		"the value), as gunicorn does; uWSGI and Tornado send the app's bytes: the same value to a client"
	whyPeerStartTwice = "a second start_response without exc_info is an error (PEP 3333): graft answers 500, as " +
		"gunicorn does; uWSGI and Tornado send the second status"
	whyPeerNoAnswer = "an app that raises before its head (or returns None, or no start_response) gets graft's " +
		"500; uWSGI and Tornado close the connection without an answer (Tornado after a head, too)"
	whyUWSGIEmpty200 = "a body that fails before its first bytes (or is None) is graft's 500; uWSGI sends 200 " +
		"with an empty body, which hides the error from the client and the access log"
	whyUWSGICut = "a response that fails after its head is cut so that the client sees it incomplete (chunked " +
		"without its last chunk); uWSGI closes in order with no length, which a client reads as complete"
	whyTornadoExcInfo = "start_response with exc_info after the head went out re-raises (PEP 3333): graft cuts " +
		"the response; Tornado buffers the whole body and sends the second status with both bodies"
	whyTornadoHead = "Tornado closes the connection without an answer to a HEAD whose app returns a body (its " +
		"HTTP/1 connection refuses the bytes); graft sends the head and drops the body"
	whyTornado204 = "Tornado adds Content-Length (0, or the app's body length) to a 204, which RFC 9110 §8.6 " +
		"forbids, and Content-Type text/html to one without; graft sends neither"
	whyTornadoNoReason = "a status without a reason phrase (\"200\") is served; Tornado fails on it and closes the " +
		"connection without an answer"
	whyTornado304    = "a body given to a 304 is dropped; Tornado fails on it and closes the connection without an answer"
	whyTornadoLength = "a body longer than the app's Content-Length is cut to it (as gunicorn does); Tornado fails " +
		"on it and closes the connection without an answer"
	whyTornadoCtype = "graft adds no Content-Type the app did not send, as gunicorn; Tornado adds text/html; " +
		"charset=UTF-8, which may be wrong"
	whyTornado10Stream = "a streamed body to HTTP/1.0 has no length, so graft ends it by closing the connection " +
		"(RFC 9112 §6.3); Tornado buffers the whole body and sends its length"
	whyTornadoFileWrapper = "Tornado's environ has no wsgi.file_wrapper (optional in PEP 3333): the fixture's " +
		"KeyError closes Tornado's connection; graft serves the file"
	whyHeadLength = "graft's HEAD answer to an empty list body has no Content-Length (RFC 9110 §9.3.2 lets a " +
		"HEAD omit it; a GET's says 0); Tornado sends Content-Length: 0"
)

// TestDiffPeersTables checks that each entry of diffpeersEnvKnown,
// diffpeersRespKnown and diffpeersDjangoKnown names a peer and a case
// that is sent.
func TestDiffPeersTables(t *testing.T) {
	peers := map[string]bool{}
	for _, p := range diffpeers {
		peers[p.name] = true
	}
	cases := map[string]bool{}
	for _, c := range diffenvCorpus {
		cases[c.name] = c.graftOnly == 0
	}
	for _, run := range diffenvRuns[1:] {
		for _, c := range run.corpus {
			cases[run.name+"/"+c.name] = c.graftOnly == 0
		}
	}
	for k := range diffpeersEnvKnown {
		peer, name, _ := strings.Cut(k, "/")
		if !peers[peer] || !cases[name] {
			t.Errorf("diffpeersEnvKnown lists %q, which is no peer's case", k)
		}
	}
	sent := map[string]bool{}
	for _, tc := range diffrespCases {
		for _, mode := range tc.requests() {
			sent[tc.path+" "+string(mode)] = true
		}
	}
	for k := range diffpeersRespKnown {
		peer, key, _ := strings.Cut(k, " ")
		if !peers[peer] || !sent[key] {
			t.Errorf("diffpeersRespKnown lists %q, which is no peer's case", k)
		}
	}
	django := map[string]bool{}
	for _, tc := range diffdjangoCases {
		django[tc.name] = !tc.tls && !tc.forced
		django["tls/"+tc.name] = tc.viaInfo()
		django["unix/"+tc.name] = tc.viaInfo()
	}
	for _, f := range diffdjangoFlows {
		for _, v := range []string{"", "proxy https ", "tls ", "unix "} {
			django[v+f.name] = true
		}
	}
	for k := range diffpeersDjangoKnown {
		peer, name, _ := strings.Cut(k, "/")
		if !peers[peer] || !django[name] {
			t.Errorf("diffpeersDjangoKnown lists %q, which is no peer's case", k)
		}
	}
}

// TestDjangoDifferentialPeers sends the raw requests and the flows of
// TestDjangoDifferential's plain pair (HTTP, no prefix, 127.0.0.1 a
// trusted proxy of graft's; the flows also through a TLS-terminating
// proxy) to wsgiserve, uWSGI and Tornado serving the Django project
// testdata/diffdjango, and the requests under /i/ and the flows over TLS
// (no prefix: Tornado has none) and over Unix sockets, and compares what
// Django computed and answered. Where graft's answer is the one
// diffdjangoKnown lists against gunicorn, that decision stands; any
// other difference must be in diffpeersDjangoKnown.
func TestDjangoDifferentialPeers(t *testing.T) {
	py := pythontest.Python(t, "django")
	bin := opstest.Build(t, "wsgiserve")
	dir, tmp := setupDiffDjango(t, py)
	certFile, keyFile, pool := testcert.Write(t, tmp, 1)
	conf := &tls.Config{RootCAs: pool, NextProtos: []string{"http/1.1"}}
	for _, run := range []struct {
		name     string // "", "tls/", "unix/": before the names of its cases
		env      diffenvRun
		bind     string
		args     []string // wsgiserve's
		variants []diffdjangoVariant
	}{
		{"", diffenvRun{}, "127.0.0.1:0", []string{"-forwarded-allow-ips", "127.0.0.1"},
			[]diffdjangoVariant{{name: ""}, {name: "proxy https ", proxied: true}}},
		{"tls/", diffenvRun{tls: true}, "127.0.0.1:0", []string{"-forwarded-allow-ips", "127.0.0.1", "-certfile", certFile, "-keyfile", keyFile},
			[]diffdjangoVariant{{name: "tls "}}},
		{"unix/", diffenvRun{unix: true}, "unix:" + filepath.Join(tmp, "graft.sock"), []string{"-forwarded-allow-ips", "unix"},
			[]diffdjangoVariant{{name: "unix "}}},
	} {
		t.Run(strings.TrimSuffix(cmp.Or(run.name, "plain"), "/"), func(t *testing.T) {
			var peers []diffdjangoPeer
			for _, p := range diffpeers {
				addr := p.start(t, run.env, dir, "diffdjango.wsgi:application", certFile, keyFile)
				peers = append(peers, diffdjangoPeer{p.name, djangoServerAt(addr, conf)})
			}
			graft := startDjangoGraft(t, bin, py, dir, run.bind, conf, append(run.args, "-forwarded-host")...)
			for _, p := range peers {
				addr := p.srv.addr
				if p.srv.tls != nil {
					addr = "tls:" + addr
				}
				waitUp(t, p.name, addr, "/i/")
			}
			for _, tc := range diffdjangoCases {
				if tc.tls || tc.forced || (run.name != "" && !tc.viaInfo()) {
					continue
				}
				t.Run(tc.name, func(t *testing.T) { comparePeersDjangoRaw(t, graft, peers, run.name+tc.name, tc) })
			}
			for _, f := range diffdjangoFlows {
				for _, v := range run.variants {
					name := v.name + f.name
					t.Run(name, func(t *testing.T) {
						g, err := v.run(t, f, graft)
						if err != nil {
							t.Fatalf("wsgiserve: %v\n%s", err, g)
						}
						for _, p := range peers {
							u, err := v.run(t, f, p.srv)
							if err != nil {
								u = fmt.Sprintf("error: %v\n%s", err, u)
							}
							comparePeerDjango(t, p.name, name, graft.mask(g), p.srv.mask(u))
						}
					})
				}
			}
		})
	}
}

// diffdjangoPeer is a peer serving the Django project.
type diffdjangoPeer struct {
	name string
	srv  diffdjangoServer
}

// comparePeersDjangoRaw sends tc's raw request to graft and to each peer
// and compares the answers as name.
func comparePeersDjangoRaw(t *testing.T, graft diffdjangoServer, peers []diffdjangoPeer, name string, tc diffdjangoCase) {
	t.Helper()
	g, err := graft.raw(tc.request())
	if err != nil {
		t.Fatalf("wsgiserve: %v\n%s", err, g)
	}
	g = normalise(g)
	g.status, g.interim = statusCode(g.status), statusCode(g.interim)
	unix := strings.HasPrefix(graft.addr, "unix:")
	for _, p := range peers {
		req, next := tc.request()
		u, err := p.srv.rawWithin(req, next, diffpeersWait)
		var gs, us string
		if err != nil {
			gs, us = graft.render(g, tc.summary), fmt.Sprintf("error: %v", err)
		} else {
			u, g := peerNormalise(u), g
			u.status = statusCode(u.status)
			u.interim = statusCode(u.interim)
			applyDjangoRules(&g, &u, unix)
			// Tornado takes SERVER_PORT from Host, as graft does
			// (uWSGI's is its listener's, which mask hides).
			u.body = graftPort.ReplaceAllString(u.body, `"port": "PORT"`)
			if unix {
				g.body = graftPort.ReplaceAllString(g.body, `"port": "PORT"`)
				// whyPeerUnixAddr: graft's is gunicorn's "".
				u.body = strings.ReplaceAll(u.body, `"remote_addr": "0.0.0.0"`, `"remote_addr": ""`)
			}
			mode := get11
			if strings.Contains(req, " HTTP/1.0\r\n") {
				mode = get10
			}
			for _, r := range diffpeersRules {
				r.apply(p.name, mode, &g, &u)
			}
			gs, us = graft.render(g, tc.summary), p.srv.render(u, tc.summary)
		}
		comparePeerDjango(t, p.name, name, gs, us)
	}
}

// comparePeerDjango compares wsgiserve's answer g to peer's u, as
// rendered: a known difference with the peer, or one with gunicorn
// whose graft side g still shows, is checked as compareDjango does.
func comparePeerDjango(t *testing.T, peer, name, g, u string) {
	t.Helper()
	if g == u {
		return
	}
	// A decision on the plain run's case holds for the same request
	// over TLS, a Unix socket or a proxy, where graft's answer is the same.
	base := name
	for _, run := range []string{"tls/", "unix/", "tls ", "unix ", "proxy https "} {
		base = strings.TrimPrefix(base, run)
	}
	for _, n := range []string{name, base} {
		if known, ok := diffdjangoKnown[n]; ok && strings.Contains(g, known.graft) {
			return // decided against gunicorn
		}
	}
	if known, ok := diffpeersDjangoKnown[peer+"/"+name]; ok {
		if !strings.Contains(g, known.graft) {
			t.Errorf("known difference with %s (%s) changed: wsgiserve's answer should contain %q:\nwsgiserve:\n%s\n%s:\n%s",
				peer, known.why, known.graft, g, peer, u)
		}
		return
	}
	if known, ok := diffpeersDjangoKnown[peer+"/"+base]; ok && strings.Contains(g, known.graft) {
		return
	}
	t.Errorf("differs from %s (%q):\nwsgiserve:\n%s\n%s:\n%s", peer, peer+"/"+name, g, peer, u)
}

// diffpeersDjangoKnown are the differences with a peer on purpose, by
// "peer/case": what wsgiserve's answer (as the test prints it) contains,
// and why.
var diffpeersDjangoKnown = map[string]struct{ graft, why string }{
	"uwsgi/HTTP/1.0 without host": {"HTTP/1.0 200", "without a Host, SERVER_NAME is the socket's address, as " +
		"under gunicorn; uWSGI's is the machine's host name, which Django's ALLOWED_HOSTS refuses (400)"},
	"tornado/HTTP/1.0 without host": {`\"absolute_uri\": \"http://127.0.0.1:PORT/i/\"`, "without a Host, " +
		"SERVER_PORT is the socket's port, as under gunicorn; Tornado's is 80, so Django builds URLs to a port " +
		"nobody listens on"},
	"tornado/tls/HTTP/1.0 without host": {`\"absolute_uri\": \"https://127.0.0.1:PORT/i/\"`, "as HTTP/1.0 " +
		"without host: over TLS Tornado's SERVER_PORT is 443"},
	"tornado/unix/HTTP/1.0 without host": {"HTTP/1.0 400", "without a Host on a Unix socket, graft's SERVER_NAME " +
		"is localhost (docs/wsgi.md), which the project's ALLOWED_HOSTS does not list (400, as under gunicorn, " +
		"whose SERVER_NAME is the socket's path); Tornado's is 127.0.0.1, which it lists: both make up a name"},
	"uwsgi/absolute-form target":   {`\"path\": \"/i/abs\"`, whyPeerAbsolute + " (Django's 404)"},
	"tornado/absolute-form target": {`\"path\": \"/i/abs\"`, whyPeerAbsolute + " (Django's 404)"},
	"uwsgi/dot segments":           {`\"path\": \"/i/./a/../b\"`, whyUWSGIDots},
	"uwsgi/upload with Expect": {"HTTP/1.1 100 then HTTP/1.1 200", whyUWSGIExpect +
		": uWSGI waits for the body the client holds back, and nothing is answered"},
	"uwsgi/body too big with Expect": {"HTTP/1.1 100 then HTTP/1.1 400", whyUWSGIExpect},
	"uwsgi/header twice":             {`\"HTTP_X_DUP\": \"1,2\"`, whyUWSGIJoin},
	"uwsgi/csrf":                     {"POST /csrf-post -> 200", whyUWSGIReuse},
	"uwsgi/session and admin login":  {"GET /admin/ -> 200", whyUWSGIReuse},
	"tornado/session and admin login": {"GET /session -> 200", "Tornado 6.2's WSGIContainer runs the app on " +
		"its asyncio event loop's thread, where Django refuses database access (SynchronousOnlyOperation): " +
		"every session and the admin login are a 500; graft runs the app in worker threads"},
}

// whyUWSGIReuse is the reason of the flows uWSGI fails.
const whyUWSGIReuse = "uWSGI's --http-socket closes each connection after its answer without Connection: " +
	"close, so a client that keeps connections (net/http, requests) sends its next POST on a closed one and " +
	"gets a reset; graft keeps the connection open"
