package middleware

import (
	"bufio"
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/graft-dev/graft/router"
)

// A SCRIPT_NAME header from a trusted proxy (nginx set up for gunicorn,
// which takes it) is not taken, as before, but no longer silently: Stack
// logs one WARN line saying so and what to use instead, whatever the
// spelling of the name on the wire; not for an untrusted peer's, and not
// again for the next requests.
func TestScriptNameHeaderWarned(t *testing.T) {
	for _, tc := range []struct {
		name    string
		proxies string
		want    int // WARN lines after three requests
	}{
		{"trusted proxy", "127.0.0.1/8", 1},
		{"untrusted peer", "10.0.0.0/8", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			r := router.New()
			r.Use(Stack(Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Proxies: MustParseProxies(tc.proxies)}))
			var paths []string
			r.Fallback(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				paths = append(paths, req.URL.Path)
			}))
			srv := httptest.NewServer(r)
			defer srv.Close()
			for _, name := range []string{"SCRIPT_NAME", "script_name", "Script_Name"} {
				c, err := net.Dial("tcp", srv.Listener.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(c, "GET /app/x HTTP/1.1\r\nHost: x\r\n%s: /app\r\nConnection: close\r\n\r\n", name)
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				c.Close()
			}
			var warns []map[string]any
			for _, l := range logLines(t, &logs) {
				if msg, _ := l["msg"].(string); strings.Contains(msg, "SCRIPT_NAME header") {
					warns = append(warns, l)
				}
			}
			if len(warns) != tc.want {
				t.Fatalf("%d SCRIPT_NAME warnings; want %d:\n%s", len(warns), tc.want, logs.String())
			}
			for _, w := range warns {
				if w["level"] != "WARN" || w["graft.prefix"] != "/app" || w["url.path"] != "/app/x" {
					t.Errorf("warning %v; want level WARN, graft.prefix /app, url.path /app/x", w)
				}
			}
			if strings.Join(paths, " ") != "/app/x /app/x /app/x" {
				t.Errorf("the handler saw paths %q; want the whole path each time", paths)
			}
		})
	}
}
