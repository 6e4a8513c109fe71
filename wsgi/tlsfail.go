package wsgi

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/graft-dev/graft/internal/promreg"
)

// Reasons a TLS handshake failed, the values of the reason label of
// graft_tls_handshake_failures_total and of graft.reason in the log: a
// small fixed set, so that a scanner cannot grow the metric.
const (
	tlsFailTimeout     = "timeout"          // no handshake within TLSHandshakeTimeout
	tlsFailEOF         = "eof"              // the client closed or reset the connection (a TCP health check, a scanner)
	tlsFailHTTP        = "http"             // plain HTTP on the TLS port (answered 400, logged as a refusal)
	tlsFailCertificate = "bad certificate"  // the client refused the server's certificate (or, with client certificates, the server the client's)
	tlsFailVersion     = "protocol version" // no TLS version in common
	tlsFailCipher      = "cipher"           // no cipher suite in common
	tlsFailOther       = "other"
)

// handshakeFailures reports the TLS handshakes that fail on [Serve]'s TLS
// listeners, which no handler and no access line sees (net/http's own
// ServeTLS logs each one, "http: TLS handshake error from ..."). Each is
// counted in graft_tls_handshake_failures_total by reason. One that says
// something about the server's certificate or configuration (bad
// certificate, protocol version, cipher, other) is logged at WARN, one
// line a second at most, which says how many such failures were left out
// since the previous one (graft.suppressed); the others, and those left
// out, are logged at DEBUG: a timeout or a connection closed before the
// handshake is what port scanners and TCP health checks do all day. Plain
// HTTP is logged as a refusal already (see refusals), so only counted.
type handshakeFailures struct {
	count *prometheus.CounterVec
	log   *slog.Logger
	warn  rateLog
}

// newHandshakeFailures registers the counter with reg (or takes the one
// a previous Serve, GuardTLS or GuardTLSReport registered there).
func newHandshakeFailures(reg prometheus.Registerer, log *slog.Logger) *handshakeFailures {
	cv := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "graft_tls_handshake_failures_total",
		Help: "TLS handshakes that failed on the application's listeners, by reason: timeout, eof, http, bad certificate, protocol version, cipher, other.",
	}, []string{"reason"})
	cv, _ = promreg.Shared(reg, cv) // another failure: counted, not exported
	return &handshakeFailures{count: cv, log: log}
}

// report counts and logs one failed handshake; reason is handshakeReason's.
func (h *handshakeFailures) report(reason string, err error, peer net.Addr) {
	h.count.WithLabelValues(reason).Inc()
	if reason == tlsFailHTTP {
		return
	}
	attrs := []slog.Attr{slog.String(logClient, peerIP(peer)), slog.String("graft.reason", reason), slog.String(logError, err.Error())}
	level := slog.LevelDebug
	if reason != tlsFailTimeout && reason != tlsFailEOF {
		if ok, dropped := h.warn.allow(time.Now()); ok {
			level = slog.LevelWarn
			if dropped > 0 {
				attrs = append(attrs, slog.Int("graft.suppressed", dropped))
			}
		}
	}
	h.log.LogAttrs(context.Background(), level, "wsgi: TLS handshake failed", attrs...)
}

// handshakeReason sorts the error of a failed server handshake into one of
// the tlsFail reasons. It returns "" for a handshake cut short by the
// listener's close, and for a connection whose PROXY protocol header was
// refused (logged by ProxyProtocol already), neither of them a failure.
func handshakeReason(err error) string {
	var re tls.RecordHeaderError
	var ne net.Error
	var ve *tls.CertificateVerificationError
	var op *net.OpError
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, errProxyHeader):
		return ""
	case errors.As(err, &re) && re.Conn != nil && looksLikeHTTP(re.RecordHeader):
		return tlsFailHTTP
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return tlsFailTimeout
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return tlsFailEOF
	case errors.As(err, &ve):
		return tlsFailCertificate
	case errors.As(err, &op) && op.Op == "remote error":
		// An alert the client sent. crypto/tls's alert type is its own;
		// its text is AlertError's.
		for _, a := range []struct {
			codes  []tls.AlertError
			reason string
		}{
			{[]tls.AlertError{42, 43, 44, 45, 46, 48}, tlsFailCertificate}, // bad, unsupported, revoked, expired, unknown certificate; unknown CA
			{[]tls.AlertError{70}, tlsFailVersion},                         // protocol_version
			{[]tls.AlertError{71}, tlsFailCipher},                          // insufficient_security
		} {
			for _, code := range a.codes {
				if op.Err != nil && op.Err.Error() == code.Error() {
					return a.reason
				}
			}
		}
		return tlsFailOther
	}
	// What the server found wrong with the client's hello: crypto/tls
	// sends the alert and returns an error of no type of its own.
	switch msg := err.Error(); {
	case strings.Contains(msg, "unsupported versions"), strings.Contains(msg, "protocol version"):
		return tlsFailVersion
	case strings.Contains(msg, "no cipher suite supported"):
		return tlsFailCipher
	}
	return tlsFailOther
}
