package migrate

import (
	"fmt"
	"hash/fnv"
	"net"
	"net/http"
	"strings"

	"github.com/graft-dev/graft/wsgi"
)

// buckets is the resolution of canary percentages: one bucket is 0.01%.
const buckets = 10000

// stickyKind is what a canary route buckets its requests by.
type stickyKind int

const (
	stickyAddr stickyKind = iota
	stickyCookie
	stickyHeader
	stickyRemoteUser
	stickyIdentity
)

type sticky struct {
	kind stickyKind
	name string
}

// parseSticky parses RouteConfig.Sticky.
func parseSticky(s string) (sticky, error) {
	kind, name, _ := strings.Cut(s, ":")
	switch kind {
	case "", "addr":
		if name == "" {
			return sticky{kind: stickyAddr}, nil
		}
	case "remote_user":
		if name == "" {
			return sticky{kind: stickyRemoteUser}, nil
		}
	case "identity":
		if name == "" {
			return sticky{kind: stickyIdentity}, nil
		}
	case "cookie":
		if validHeaderName(name) {
			return sticky{kind: stickyCookie, name: name}, nil
		}
	case "header":
		if validHeaderName(name) {
			return sticky{kind: stickyHeader, name: http.CanonicalHeaderKey(name)}, nil
		}
	}
	return sticky{}, fmt.Errorf("migrate: unknown sticky key %q (want cookie:NAME, header:NAME, remote_user, identity or addr)", s)
}

// key returns the value r is bucketed by: the configured key, else the
// client address.
func (s sticky) key(r *http.Request, identity func(*http.Request) string) string {
	var v string
	switch s.kind {
	case stickyCookie:
		if c, err := r.Cookie(s.name); err == nil {
			v = c.Value
		}
	case stickyHeader:
		v = r.Header.Get(s.name)
	case stickyRemoteUser:
		v = wsgi.ExtraEnviron(r.Context())["REMOTE_USER"]
	case stickyIdentity:
		if identity != nil {
			v = identity(r)
		} else {
			v = wsgi.ExtraEnviron(r.Context())["REMOTE_USER"]
		}
	}
	if v != "" {
		return v
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// Bucket returns the canary bucket (0 to 9999) of key on route: a stable
// hash of both, so that a user stays on one side at a given percentage,
// raising the percentage only adds users (a request goes to Go when its
// bucket is below percent*100), and each route picks its own users. The
// Migrator passes a HEAD route the key of the GET route on its pattern
// ("GET /x"), so that a user gets GET and HEAD from the same side.
func Bucket(route, key string) int {
	h := fnv.New64a()
	h.Write([]byte(route))
	h.Write([]byte{0})
	h.Write([]byte(key))
	x := h.Sum64()
	// splitmix64's finaliser spreads FNV's low bits.
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return int(x % buckets)
}
