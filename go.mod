module github.com/graft-dev/graft

go 1.24

require (
	github.com/go-chi/chi/v5 v5.5.0
	github.com/go-chi/httplog/v3 v3.3.0
	github.com/google/uuid v1.6.0
)
