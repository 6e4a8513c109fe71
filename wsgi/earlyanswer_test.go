package wsgi

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/graft-dev/graft/internal/pythontest"
	"github.com/graft-dev/graft/internal/testcert"
)

// TestServeEarlyAnswerLingers: a handler that answers a request without
// reading its large body (a 413, as the container answers one over
// MaxBodySize by its Content-Length) reaches an HTTP/1.1 client still
// sending the body, plain and over TLS: net/http shuts the sending side
// and waits before it closes a connection with unread body bytes, whose
// close would reset it and could destroy the response in flight. Before,
// ServeConfig.BodyTimeout's wrapper replaced Request.Body in place, which
// hid net/http's own body from it: the connection was closed at once and
// Go's client got "connection reset by peer" instead of the 413 for most
// of the requests (9 of 10 here; curl, slower to notice, mostly got it).
func TestServeEarlyAnswerLingers(t *testing.T) {
	for _, withTLS := range []bool{false, true} {
		name := map[bool]string{false: "plain", true: "TLS"}[withTLS]
		t.Run(name, func(t *testing.T) {
			lc := ListenConfig{Binds: []string{"127.0.0.1:0"}}
			certFile, keyFile, pool := testcert.Write(t, t.TempDir(), 1)
			scheme := "http://"
			if withTLS {
				lc.CertFile, lc.KeyFile, scheme = certFile, keyFile, "https://"
			}
			ls, err := Listen(lc)
			if err != nil {
				t.Fatal(err)
			}
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Connection", "close")
				http.Error(w, "too large", http.StatusRequestEntityTooLarge)
			})
			logs := &pythontest.Buffer{}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- Serve(ctx, ls, h, nil, ServeConfig{NoSignals: true, Logger: slogNew(logs)}) }()
			defer func() {
				cancel()
				<-done
				if t.Failed() {
					t.Logf("log:\n%s", logs)
				}
			}()
			tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}, Protocols: new(http.Protocols)}
			tr.Protocols.SetHTTP1(true)
			c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			body := make([]byte, 31<<20)
			for i := range 10 {
				resp, err := c.Post(scheme+ls.Main[0].Addr().String()+"/", "application/octet-stream", bytes.NewReader(body))
				if err != nil {
					t.Fatalf("POST #%d: %v; want the 413", i+1, err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusRequestEntityTooLarge {
					t.Fatalf("POST #%d: %d; want 413", i+1, resp.StatusCode)
				}
			}
		})
	}
}
