package router

import (
	"fmt"
	"slices"
	"sync"
)

// registry holds the names and the inventory of one router tree: a Router
// made by New and every Router derived from it with Route, Group and With.
// A tree mounted into another with Mount links its registry to the
// parent's, so that names are unique across the whole application and the
// parent can reverse them.
type registry struct {
	mu      sync.RWMutex
	names   map[string]*template // name -> full pattern, relative to this tree
	entries []*entry             // inventory, in registration order

	parent *registry // set by Mount
	prefix string    // full mount pattern in the parent tree

	stager stagerBox // see Router.SetStager; used on the root only
}

// entry is one line of the inventory. A mounted Router is an entry with sub
// set; its routes are expanded under pattern when the inventory is listed.
type entry struct {
	method   string
	pattern  string // full pattern, relative to the registry's tree
	name     string
	target   Target
	allow    bool
	implicit bool // the HEAD route a GET route implies
	// A route registered as "/" on a sub-Router is also served at the
	// sub-Router's prefix without its slash (chi's Mount routes "/api" to
	// the "/" route of what it mounts at "/api"). also is that prefix,
	// relative to the registry's tree, for a Router made by Route; root
	// marks a "/" route of a Router made by New, whose prefix is the
	// pattern it is mounted at, if any.
	also  string
	root  bool
	sub   *registry
	stage *stagedHandler // a staged route (see stage.go), or nil
}

func newRegistry() *registry {
	return &registry{names: make(map[string]*template)}
}

func (g *registry) add(e *entry) {
	g.mu.Lock()
	g.entries = append(g.entries, e)
	g.mu.Unlock()
}

// remove drops e from the inventory.
func (g *registry) remove(e *entry) {
	g.mu.Lock()
	g.entries = slices.DeleteFunc(g.entries, func(x *entry) bool { return x == e })
	g.mu.Unlock()
}

// addName records name for pattern here and in every ancestor tree,
// panicking on a duplicate anywhere along the way.
func (g *registry) addName(name, pattern string) {
	if name == "" {
		panic("router: empty route name")
	}
	t, err := parseTemplate(pattern)
	if err != nil {
		panic(fmt.Sprintf("router: route %q: %v", name, err))
	}
	g.mu.Lock()
	if old, dup := g.names[name]; dup {
		g.mu.Unlock()
		panic(fmt.Sprintf("router: duplicate route name %q (%q and %q)", name, old.pattern, pattern))
	}
	g.names[name] = t
	parent, prefix := g.parent, g.prefix
	g.mu.Unlock()
	if parent != nil {
		parent.addName(name, join(prefix, pattern))
	}
}

// link makes child a mounted tree of g at the full pattern prefix.
func (g *registry) link(child *registry, prefix string) {
	if child == g {
		panic("router: attempting to Mount a Router onto itself")
	}
	child.mu.Lock()
	if child.parent != nil {
		child.mu.Unlock()
		panic(fmt.Sprintf("router: Router mounted twice (already under %q, now %q)", child.prefix, prefix))
	}
	child.parent, child.prefix = g, prefix
	names := make(map[string]string, len(child.names))
	for n, t := range child.names {
		names[n] = t.pattern
	}
	child.mu.Unlock()
	for n, p := range names {
		g.addName(n, join(prefix, p))
	}
}

func (g *registry) lookup(name string) *template {
	g.mu.RLock()
	t := g.names[name]
	g.mu.RUnlock()
	return t
}
