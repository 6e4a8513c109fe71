// Package doccheck holds only tests: they type-check every Go code block
// of README.md and docs/*.md against graft's packages, so that a snippet a
// user copies names functions, fields and types that exist, with the
// arguments they take, and parse every stages file the docs show with
// migrate.ParseFile. Nothing imports it.
package doccheck
