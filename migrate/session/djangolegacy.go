package session

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"fmt"
)

// djangoLegacyStoredSalt is the key salt of the legacy session_data
// format: "django.contrib.sessions" and the SessionStore class's
// __name__, with no dot between them.
const djangoLegacyStoredSalt = "django.contrib.sessionsSessionStore"

// decodeLegacyStored verifies and decodes session_data in the format of
// Django before 3.1, which Django 3.1 and 3.2 still write when
// DEFAULT_HASHING_ALGORITHM = "sha1" (SessionBase._legacy_encode):
// base64(hex(HMAC-SHA1) ":" JSON), the HMAC's key being
// SHA1(salt + SECRET_KEY) (salted_hmac). It reports false when value is
// not in that shape, so that the caller keeps its own error.
func decodeLegacyStored(value string, keys []string) (any, bool, error) {
	data, err := base64.StdEncoding.DecodeString(value)
	if err != nil {
		return nil, false, nil
	}
	mac, serialized, ok := bytes.Cut(data, []byte(":"))
	if !ok || len(mac) != 2*sha1.Size {
		return nil, false, nil
	}
	if _, err := hex.DecodeString(string(mac)); err != nil {
		return nil, false, nil
	}
	for _, k := range keys {
		d := sha1.Sum([]byte(djangoLegacyStoredSalt + k))
		m := hmac.New(sha1.New, d[:])
		m.Write(serialized)
		if equalSig(string(mac), hex.EncodeToString(m.Sum(nil))) {
			tree, err := decodeJSON(latin1(serialized))
			return tree, true, err
		}
	}
	return nil, true, fmt.Errorf("%w: legacy (pre-Django 3.1) session_data not signed with this key, or tampered with", ErrBadSignature)
}
