package middleware

import (
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/go-chi/httplog/v3"

	"github.com/graft-dev/graft/wsgi"
)

// BenchmarkAccessLine times building and writing one access line (the
// request logger's finish) alone, for the examples' concise schema and
// the default one, with wsgi's text handler to io.Discard.
func BenchmarkAccessLine(b *testing.B) {
	concise := DefaultLogOptions()
	s := *httplog.SchemaECS.Concise(true)
	s.RequestRemoteIP, s.ResponseBytes = "client", "bytes"
	concise.Schema = &s
	concise.LogRequestHeaders, concise.LogResponseHeaders = []string{}, nil
	for _, bc := range []struct {
		name  string
		o     *httplog.Options
		brief bool
	}{{"concise", concise, true}, {"default", DefaultLogOptions(), false}} {
		b.Run(bc.name, func(b *testing.B) {
			al := newAccessLog(slog.New(wsgi.NewTextHandler(io.Discard, nil)), bc.o, bc.brief)
			r := benchRequest()
			c, rw := begin(r)
			c.name(&discardWriter{h: make(http.Header)}, r, nil, new(idGenerator), time.Time{}, &rw)
			c.hook(&rw)
			r = rw.apply(r)
			st := &c.access
			ww := st.w.wrap(&discardWriter{h: make(http.Header)})
			ww.Write(helloBody)
			start := time.Now()
			b.ReportAllocs()
			cpu := cpuTime()
			for b.Loop() {
				al.graft.finish(c, st, ww, r, start, nil)
			}
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}
