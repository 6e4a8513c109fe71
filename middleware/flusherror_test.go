package middleware

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

// flushFailer is a response writer whose flush fails (an HTTP/2 stream the
// client has reset: "http2: stream closed"), with the optional interfaces
// of the writer variant under test.
type flushFailer struct{ *httptest.ResponseRecorder }

var errFlush = errors.New("http2: stream closed")

func (f flushFailer) FlushError() error { return errFlush }

type flushFailerHijacker struct{ flushFailer }

func (flushFailerHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) { return nil, nil, nil }

type flushFailerHijackReader struct{ flushFailerHijacker }

func (flushFailerHijackReader) ReadFrom(r io.Reader) (int64, error) { return io.Copy(io.Discard, r) }

type flushFailerPusher struct{ flushFailer }

func (flushFailerPusher) Push(string, *http.PushOptions) error { return nil }

// TestFlushErrorPassedOn: http.ResponseController.Flush on the writer the
// access log gives a handler returns the error of the connection's flush.
// The log's writers had only Flush, which ResponseController takes
// before unwrapping: a handler behind AccessLog (or Stack) got nil from a
// flush that failed, where without the log it got the error (observed over
// HTTP/2: "http2: stream closed" after the client reset the stream, nil
// through AccessLog).
func TestFlushErrorPassedOn(t *testing.T) {
	for _, tc := range []struct {
		name  string
		under func() http.ResponseWriter
	}{
		{"flusher", func() http.ResponseWriter { return flushFailer{httptest.NewRecorder()} }},
		{"flusher and hijacker", func() http.ResponseWriter { return flushFailerHijacker{flushFailer{httptest.NewRecorder()}} }},
		{"HTTP/1", func() http.ResponseWriter {
			return flushFailerHijackReader{flushFailerHijacker{flushFailer{httptest.NewRecorder()}}}
		}},
		{"HTTP/2", func() http.ResponseWriter { return flushFailerPusher{flushFailer{httptest.NewRecorder()}} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got error
			h := AccessLog(slog.New(slog.DiscardHandler), DefaultLogOptions())(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if _, ok := w.(http.Flusher); !ok {
					t.Fatalf("the log's writer %T is no http.Flusher", w)
				}
				w.Write([]byte("x"))
				got = http.NewResponseController(w).Flush()
			}))
			h.ServeHTTP(tc.under(), httptest.NewRequest("GET", "/", nil))
			if !errors.Is(got, errFlush) {
				t.Errorf("ResponseController.Flush through the log = %v, want %v", got, errFlush)
			}
		})
	}
}
