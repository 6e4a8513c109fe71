package session

import "errors"

// Errors of the decoders. An error caused by the value being decoded
// wraps exactly one of ErrMalformed, ErrBadSignature, ErrExpired and
// ErrPayload, with details (never the value itself, which is a
// credential); test with errors.Is. Configuration errors are ErrNoKey or
// plain "session: ..." errors.
var (
	// ErrMalformed is a value that does not have the framework's shape
	// (separators, base64, timestamp): a truncated, mangled or foreign
	// value. Nothing in it was decoded.
	ErrMalformed = errors.New("session: malformed signed value")

	// ErrBadSignature is a value whose signature does not match any of the
	// keys: it was tampered with, or signed with another key or salt (a
	// cookie of another app or of another purpose). Nothing in it was
	// decoded.
	ErrBadSignature = errors.New("session: bad signature")

	// ErrExpired is a correctly signed value older than the maximum age
	// (or, for Flask, dated in the future, which itsdangerous rejects too;
	// for Pyramid, not accessed within the factory's timeout).
	// Nothing in it was decoded.
	ErrExpired = errors.New("session: expired")

	// ErrPayload is a correctly signed value whose payload cannot be
	// decoded: not zlib, not JSON (a pickle-serialized Django or Pyramid
	// session), not an object where a session must be one, or a Flask tag
	// with a bad value.
	ErrPayload = errors.New("session: undecodable payload")

	// ErrNoKey is returned by a codec with no secret key.
	ErrNoKey = errors.New("session: no secret key")
)
