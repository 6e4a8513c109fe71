package migrate

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Default names of the tester override.
const (
	// DefaultOverrideCookie is the cookie that carries a tester override.
	DefaultOverrideCookie = "graft_migrate_override"
	// DefaultOverrideHeader is the header that carries a tester override.
	DefaultOverrideHeader = "Graft-Migrate-Override"
)

// SignOverride returns a tester override that sends its bearer to side on
// every staged route until expires, signed with secret (the Migrator's
// [Options].OverrideSecret). Put it in the override cookie or header. The
// kill switches and automatic rollbacks still win over it, and requests
// it steers are left out of the canary and rollback statistics.
//
// The value is "side.expiry.signature": the side, the expiry in Unix
// seconds, and the base64url HMAC-SHA256 of both.
func SignOverride(secret []byte, side Side, expires time.Time) string {
	payload := string(side) + "." + strconv.FormatInt(expires.Unix(), 10)
	return payload + "." + overrideMAC(secret, payload)
}

func overrideMAC(secret []byte, payload string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("graft-migrate-override\x00"))
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// verifyOverride checks a tester override; ok is false for a value that is
// malformed, unsigned, badly signed or expired.
func verifyOverride(secret []byte, v string, now time.Time) (side Side, ok bool) {
	if len(secret) == 0 || len(v) > 256 {
		return "", false
	}
	i := strings.LastIndexByte(v, '.')
	if i < 0 {
		return "", false
	}
	payload, sig := v[:i], v[i+1:]
	if !hmac.Equal([]byte(sig), []byte(overrideMAC(secret, payload))) {
		return "", false
	}
	s, exp, _ := strings.Cut(payload, ".")
	t, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || now.Unix() > t {
		return "", false
	}
	switch Side(s) {
	case SidePython, SideGo:
		return Side(s), true
	}
	return "", false
}

// override returns the side a tester override forces on r; present is
// true when r carries one, valid or not.
func (m *Migrator) override(r *http.Request) (side Side, present, ok bool) {
	v := r.Header.Get(m.o.OverrideHeader)
	if v == "" {
		if !cookieMayHave(r.Header, m.o.OverrideCookie) {
			return "", false, false
		}
		c, err := r.Cookie(m.o.OverrideCookie)
		if err != nil {
			return "", false, false
		}
		v = c.Value
	}
	side, ok = verifyOverride(m.o.OverrideSecret, v, m.now())
	return side, true, ok
}

// cookieMayHave is a cheap test that spares parsing the cookies of most
// requests.
func cookieMayHave(h http.Header, name string) bool {
	for _, v := range h["Cookie"] {
		if strings.Contains(v, name) {
			return true
		}
	}
	return false
}
