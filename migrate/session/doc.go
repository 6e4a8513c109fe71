// Package session reads and writes the sessions of the Python app that
// graft serves, in Go, with no call into Python: Flask's default signed
// session cookie and Django's signed values (the signed-cookies session
// backend, the session_data of the database and file backends, and
// django.core.signing values in general), plus the CSRF token that
// Django's CsrfViewMiddleware expects in a form that Go renders, and the
// middleware's check of a request that Django's pages post to a Go route
// ([DjangoCSRF.Check], with the secret in a cookie or, for
// CSRF_USE_SESSIONS, in the session). The cache session backend stores
// the session dict itself, pickled by the cache, which Go cannot read.
//
// The formats are those of the frameworks' own code, checked against real
// Flask 2.2 / itsdangerous 2 and Django 3.2 in the tests:
//
//   - Flask (itsdangerous URLSafeTimedSerializer, salt "cookie-session",
//     HMAC-SHA1 with an HMAC-derived key): payload.timestamp.signature, all
//     base64url without padding, a payload starting with "." when it is
//     zlib-compressed, a big-endian Unix timestamp, and Flask's tagged JSON
//     (tuples, bytes, Markup, UUIDs and datetimes; see [Tuple], [Markup]).
//   - Django (django.core.signing.TimestampSigner): payload:timestamp:signature,
//     a base62 timestamp, "." and zlib for compressed payloads, and an HMAC
//     keyed by hash(salt + "signer" + SECRET_KEY), SHA-256 since Django 3.1
//     (SHA-1 signatures as Django 3.1 and 3.2 still accept them, on request).
//
// A value is verified before anything in it is decoded: tampered values,
// values signed with another key or salt (a foreign cookie) and expired
// values are rejected with [ErrBadSignature], [ErrExpired] and
// [ErrMalformed], which errors.Is recognises. Both codecs accept a list of
// older keys, for key rotation (Flask's and Django's SECRET_KEY_FALLBACKS),
// and sign with the current one.
//
// The secret key is shared: whoever holds it can forge any session,
// log in as anyone and, with a pickle serializer on the Python side, run
// code there. Give Go the key the same way Python gets it (environment,
// secret store), never in source code.
//
// Pickle-serialized Django sessions and custom Flask session interfaces
// are not readable in Go: their signature verifies, then decoding fails
// with [ErrPayload].
package session
