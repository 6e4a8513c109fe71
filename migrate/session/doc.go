// Package session reads and writes the sessions of the Python app that
// graft serves, in Go, with no call into Python: Flask's default signed
// session cookie, Pyramid's SignedCookieSessionFactory cookie, and
// Django's signed values (the signed-cookies session
// backend, the session_data of the database and file backends, and
// django.core.signing values in general), plus the CSRF token that
// Django's CsrfViewMiddleware expects in a form that Go renders, and the
// middleware's check of a request that Django's pages post to a Go route
// ([DjangoCSRF.Check], with the secret in a cookie or, for
// CSRF_USE_SESSIONS, in the session). The cache session backend stores
// the session dict itself, pickled by the cache, which Go cannot read.
//
// The formats are those of the frameworks' own code, checked against real
// Flask 2.2 / itsdangerous 2, Django 3.2 and Pyramid 2.0 / WebOb 1.8 in
// the tests:
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
//   - Pyramid (pyramid.session.SignedCookieSessionFactory, WebOb's
//     SignedSerializer, JSONSerializer, Pyramid 2's default):
//     base64url without padding of signature then value, an HMAC-SHA-512
//     (the factory's hashalg) keyed by salt + secret ("pyramid.session."
//     by default), and the JSON [accessed, created, session], the session
//     timing out after [PyramidTimeout] without access.
//
// A value is verified before anything in it is decoded: tampered values,
// values signed with another key or salt (a foreign cookie) and expired
// values are rejected with [ErrBadSignature], [ErrExpired] and
// [ErrMalformed], which errors.Is recognises. The codecs accept a list of
// older keys, for key rotation (Flask's and Django's SECRET_KEY_FALLBACKS;
// Pyramid reads one secret), and sign with the current one.
//
// The secret key is shared: whoever holds it can forge any session,
// log in as anyone and, with a pickle serializer on the Python side, run
// code there. Give Go the key the same way Python gets it (environment,
// secret store), never in source code.
//
// Pickle-serialized Django and Pyramid sessions (Pyramid's
// PickleSerializer, Pyramid 1's default) and custom Flask session
// interfaces are not readable in Go: their signature verifies, then
// decoding fails with [ErrPayload]. Bottle's signed cookies hold a pickle
// too, and this package does not decode them.
package session
