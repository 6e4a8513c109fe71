package middleware

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/httplog/v3"

	"github.com/graft-dev/graft/wsgi"
)

// requestLogger is graft's access log: the line of httplog v3's
// RequestLogger (same level per status, message, schema keys, duration
// encoding, header attributes, panic recovery), built without its
// per-request context layer, request copy, response writer allocation and
// fmt.Sprintf. Everything it keeps per request lives in the request's
// record (reqInfo).
type requestLogger struct {
	logger *slog.Logger
	o      httplog.Options // a copy
	s      *httplog.Schema
	brief  bool
}

// needsHTTPLog reports whether o asks for what only httplog's own
// RequestLogger does: request or response bodies, or LogExtraAttrs (which
// gets the request body).
func needsHTTPLog(o *httplog.Options) bool {
	return o.LogRequestBody != nil || o.LogResponseBody != nil || o.LogExtraAttrs != nil
}

// accessState is the access log's part of the request's record.
type accessState struct {
	on    bool // a graft access log is logging the request
	abort bool // httplog mode: the handler panicked after its status went out (see annotate)
	// unreturned: httplog mode, the handler did not return (a panic, or
	// runtime.Goexit): see panicLevel.
	unreturned bool
	extra      []slog.Attr   // from SetAttrs
	w          wrappedWriter // the response writer the handler gets
	hdrs       [4]slog.Attr  // the header groups' attributes
}

// SetAttrs adds attrs to the access line of the request served with ctx,
// after httplog's fields and before graft's own (request.id, http.route,
// ...). It does nothing when ctx is not a request's under [Stack] or
// [AccessLog]. Call it from the goroutine serving the request, before
// the handler returns. Unlike httplog.SetAttrs, which reaches the line only
// when the options need httplog's own logger (see [AccessLog]), it works
// in both modes.
func SetAttrs(ctx context.Context, attrs ...slog.Attr) {
	if c := infoFrom(ctx); c != nil && c.access.on {
		c.access.extra = append(c.access.extra, attrs...)
	}
}

// serve runs next for r, whose record is c, and logs the line; start is
// the time the request began (a clock read the caller shares).
func (l *requestLogger) serve(c *reqInfo, next http.Handler, w http.ResponseWriter, r *http.Request, start time.Time) {
	st := &c.access
	if st.on {
		// An access log further out uses the record's state: this one
		// (a second Stack in a host Router) gets its own.
		st = new(accessState)
	} else {
		st.on = true
	}
	ww := st.w.wrap(w)
	defer func() { l.finish(c, st, ww, r, start, recover()) }()
	next.ServeHTTP(ww, r)
}

// finish logs the line; rec is what the handler panicked with, if it did.
func (l *requestLogger) finish(c *reqInfo, st *accessState, ww http.ResponseWriter, r *http.Request, start time.Time, rec any) {
	s := l.s
	var attrBuf [24]slog.Attr // on the stack: handlers copy attributes
	attrs := attrBuf[:0]
	// Whether the handler's response went out whole, before the
	// recovery's 500 (itself complete, with its Content-Length: 0) for a
	// client that left.
	complete := st.w.complete()
	// A response complete by its Content-Length may still have its last
	// bytes (up to 4 KiB) in net/http's buffer, which it writes to the
	// connection only once the handler has returned: a client that reset
	// the connection meanwhile did not get them. Flushing them now (the
	// write net/http would make next, not one more) tells: the line says
	// ClientAborted when it fails. HTTP/1.x only: an HTTP/2 flush before
	// the handler returns costs a frame of its own.
	unsent := false
	if complete && rec == nil && r.ProtoMajor == 1 && !st.w.hijacked {
		if err := flushError(st.w.ResponseWriter); err != nil {
			complete, unsent = false, true
		}
	}
	if rec != nil {
		sent := st.w.status != 0
		if l.o.RecoverPanics && !sent && !st.w.hijacked && r.Header.Get("Connection") != "Upgrade" {
			// An empty 500, whose Content-Length: 0 is explicit: a HEAD
			// gets the header fields a GET does (net/http leaves the
			// length out of a HEAD answer with no body written), and a
			// length the handler set for its own body is replaced.
			ww.Header().Set("Content-Length", "0")
			ww.WriteHeader(http.StatusInternalServerError)
		}
		if rec == http.ErrAbortHandler || !l.o.RecoverPanics {
			defer panic(rec)
		} else if sent && !st.w.hijacked {
			// The status went out: finishing the response would pass
			// what the handler wrote before panicking for a whole
			// answer. Abort it, as the container does when a Python
			// app raises after its headers (net/http logs nothing).
			defer panic(http.ErrAbortHandler)
		}
		attrs = appendAttr(attrs, slog.String(s.ErrorMessage, fmt.Sprint("panic: ", rec)))
		if rec != http.ErrAbortHandler {
			attrs = appendAttr(attrs, slog.Any(s.ErrorStackTrace, panicStack()))
		}
	}
	end := time.Now()
	d := end.Sub(start)
	// None sent: 101 for a hijacked connection, 499 for a client that
	// went away (httplog says 200 for both), as the metrics count them.
	status := st.w.finalStatus(r, rec == nil)
	if l.o.Skip != nil && l.o.Skip(r, status) {
		return
	}
	var lvl slog.Level
	switch {
	case status >= 500, rec != nil && rec != http.ErrAbortHandler:
		lvl = slog.LevelError
	case status == http.StatusTooManyRequests:
		lvl = slog.LevelInfo
	case status >= 400:
		lvl = slog.LevelWarn
	case r.Method == http.MethodOptions:
		lvl = slog.LevelDebug
	default:
		lvl = slog.LevelInfo
	}
	ctx := r.Context()
	if lvl < l.o.Level || !l.logger.Enabled(ctx, lvl) {
		return
	}

	// The message and the URL in one string: "GET /x => HTTP 200 (1.2ms)"
	// then "http://host/x".
	var b [160]byte
	buf := append(b[:0], r.Method...)
	buf = append(buf, ' ')
	buf = appendURL(buf, r.URL)
	buf = append(buf, " => HTTP "...)
	buf = strconv.AppendInt(buf, int64(status), 10)
	buf = append(buf, " ("...)
	if l.brief {
		buf = append(buf, round3(d).String()...)
	} else {
		buf = append(buf, d.String()...)
	}
	buf = append(buf, ')')
	nmsg := len(buf)
	scheme := ""
	if s.RequestURL != "" || s.RequestScheme != "" {
		scheme = Scheme(r) // a walk up the context
	}
	if s.RequestURL != "" {
		buf = append(buf, scheme...)
		buf = append(buf, "://"...)
		buf = append(buf, r.Host...)
		buf = appendURL(buf, r.URL)
	}
	str := string(buf)
	msg, fullURL := str[:nmsg], str[nmsg:]

	// Each value is worked out only when the schema logs it (the
	// examples' concise schema logs two of these thirteen fields).
	if s.RequestURL != "" {
		attrs = append(attrs, slog.String(s.RequestURL, fullURL))
	}
	if s.RequestMethod != "" {
		attrs = append(attrs, slog.String(s.RequestMethod, r.Method))
	}
	if s.RequestPath != "" {
		attrs = append(attrs, slog.String(s.RequestPath, r.URL.Path))
	}
	if s.RequestRemoteIP != "" {
		client := r.RemoteAddr
		if l.brief {
			if host, _, err := net.SplitHostPort(client); err == nil {
				client = host
			}
		}
		attrs = append(attrs, slog.String(s.RequestRemoteIP, client))
	}
	if s.RequestHost != "" {
		attrs = append(attrs, slog.String(s.RequestHost, r.Host))
	}
	if s.RequestScheme != "" {
		attrs = append(attrs, slog.String(s.RequestScheme, scheme))
	}
	if s.RequestProto != "" {
		attrs = append(attrs, slog.String(s.RequestProto, r.Proto))
	}
	hdrs := st.hdrs[:0]
	hdrs, attrs = appendHeaders(hdrs, attrs, s.RequestHeaders, r.Header, l.o.LogRequestHeaders)
	if s.RequestBytes != "" {
		attrs = append(attrs, slog.Int64(s.RequestBytes, r.ContentLength))
	}
	if s.RequestUserAgent != "" {
		attrs = append(attrs, slog.String(s.RequestUserAgent, r.UserAgent()))
	}
	if s.RequestReferer != "" {
		attrs = append(attrs, slog.String(s.RequestReferer, r.Referer()))
	}
	_, attrs = appendHeaders(hdrs, attrs, s.ResponseHeaders, st.w.Header(), l.o.LogResponseHeaders)
	if s.ResponseStatus != "" {
		attrs = append(attrs, slog.Int(s.ResponseStatus, status))
	}
	if s.ResponseDuration != "" {
		attrs = append(attrs, durationAttr(s.ResponseDuration, d))
	}
	if s.ResponseBytes != "" {
		attrs = append(attrs, slog.Int(s.ResponseBytes, st.w.bytes))
	}
	if (unsent || errors.Is(ctx.Err(), context.Canceled)) && !complete && (!st.w.hijacked || status != http.StatusSwitchingProtocols) {
		attrs = append(attrs, slog.Any(httplog.ErrorKey, httplog.ErrClientAborted))
		attrs = appendAttr(attrs, slog.String(s.ErrorType, "ClientAborted"))
	}
	attrs = append(attrs, st.extra...)
	attrs = c.appendLogAttrs(ctx, attrs, l.brief)
	if st.w.hijacked {
		attrs = append(attrs, slog.Bool(AttrHijacked, true))
	}
	if s.GroupDelimiter != "" {
		attrs = groupAttrs(attrs, s.GroupDelimiter)
	}

	switch h := l.logger.Handler().(type) { // the same line, without a slog.Record
	case *logHandler:
		h.write(end, lvl, msg, nil, attrs)
		return
	case *wsgi.TextHandler:
		h.HandleAttrs(ctx, end, lvl, msg, attrs)
		return
	}
	line := slog.NewRecord(end, lvl, msg, 0)
	line.AddAttrs(attrs...)
	l.logger.Handler().Handle(ctx, line)
}

// appendAttr appends a unless the schema leaves its key empty.
func appendAttr(attrs []slog.Attr, a slog.Attr) []slog.Attr {
	if a.Key == "" {
		return attrs
	}
	return append(attrs, a)
}

// appendHeaders appends the group key of the headers names of h, as
// httplog does; the group's attributes go to hdrs. An empty group is left
// out (slog's handlers print nothing for one).
func appendHeaders(hdrs, attrs []slog.Attr, key string, h http.Header, names []string) ([]slog.Attr, []slog.Attr) {
	if key == "" || len(names) == 0 {
		return hdrs, attrs
	}
	n := len(hdrs)
	for _, name := range names {
		switch vals := h.Values(name); len(vals) {
		case 0:
		case 1:
			hdrs = append(hdrs, slog.String(name, vals[0]))
		default:
			hdrs = append(hdrs, slog.Any(name, vals))
		}
	}
	if len(hdrs) == n {
		return hdrs, attrs
	}
	group := hdrs[n:len(hdrs):len(hdrs)] // later appends must not write into it
	return hdrs, append(attrs, slog.Attr{Key: key, Value: slog.GroupValue(group...)})
}

// appendURL appends u as u.String() would, without allocating for the
// form requests have (a path and a query).
func appendURL(buf []byte, u *url.URL) []byte {
	if u.Scheme != "" || u.Opaque != "" || u.Host != "" || u.User != nil || u.Fragment != "" ||
		!strings.HasPrefix(u.Path, "/") {
		return append(buf, u.String()...)
	}
	buf = append(buf, u.EscapedPath()...)
	if u.ForceQuery || u.RawQuery != "" {
		buf = append(buf, '?')
		buf = append(buf, u.RawQuery...)
	}
	return buf
}

// durationAttr encodes the duration as the schema's key calls for, as
// httplog does.
func durationAttr(key string, d time.Duration) slog.Attr {
	switch key {
	case httplog.ECSResponseDuration:
		return slog.Int64(key, d.Nanoseconds())
	case httplog.OTELResponseDuration:
		return slog.Float64(key, d.Seconds())
	case httplog.GCPResponseDuration:
		return slog.String(key, strconv.FormatFloat(d.Seconds(), 'f', -1, 64)+"s")
	}
	return slog.Float64(key, float64(d.Milliseconds()))
}

// groupAttrs nests the attributes whose key has the delimiter ("a:b")
// under a group per prefix ("a"), after the others, in the order the
// prefixes first appear.
func groupAttrs(attrs []slog.Attr, delim string) []slog.Attr {
	out := make([]slog.Attr, 0, len(attrs))
	var prefixes []string
	for _, a := range attrs {
		if p, _, ok := strings.Cut(a.Key, delim); !ok {
			out = append(out, a)
		} else if !containsString(prefixes, p) {
			prefixes = append(prefixes, p)
		}
	}
	for _, p := range prefixes {
		var nested []slog.Attr
		for _, a := range attrs {
			if q, k, ok := strings.Cut(a.Key, delim); ok && q == p {
				nested = append(nested, slog.Attr{Key: k, Value: a.Value})
			}
		}
		out = append(out, slog.Attr{Key: p, Value: slog.GroupValue(nested...)})
	}
	return out
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// panicStack returns the file:line of up to 10 frames of the panicking
// goroutine, from the panic's origin, without the runtime's panic frames.
func panicStack() []string {
	var pc [10]uintptr
	n := runtime.Callers(4, pc[:]) // runtime.Callers, panicStack, finish, the deferred func
	frames := runtime.CallersFrames(pc[:n])
	var stack []string
	for {
		f, more := frames.Next()
		if !strings.Contains(f.File, "runtime/panic.go") {
			stack = append(stack, f.File+":"+strconv.Itoa(f.Line))
		}
		if !more {
			break
		}
	}
	return stack
}

// round3 rounds d to about three significant digits.
func round3(d time.Duration) time.Duration {
	for unit := time.Duration(1); unit < time.Hour; unit *= 10 {
		if d < 1000*unit {
			return d.Round(unit)
		}
	}
	return d.Round(time.Second)
}
