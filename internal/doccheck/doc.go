// Package doccheck holds only a test: it type-checks every Go code block
// of README.md and docs/*.md against graft's packages, so that a snippet a
// user copies names functions, fields and types that exist, with the
// arguments they take. Only its test exists; nothing imports it.
package doccheck
