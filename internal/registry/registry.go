// Package registry holds the things a package registers by id at init
// time (its probes, its actions), so each looks them up the same way.
package registry

import "sort"

// Named is anything registered: its id is unique within its registry.
type Named interface{ ID() string }

// Registry maps ids to registered values. It is filled by init functions
// and read afterwards, so it needs no lock.
type Registry[T Named] struct {
	kind string
	m    map[string]T
}

// New returns an empty registry; kind names it in the panic of a
// duplicate ("probes", "actions").
func New[T Named](kind string) *Registry[T] {
	return &Registry[T]{kind: kind, m: map[string]T{}}
}

// Register adds v; a duplicate id panics, being a programming error.
func (r *Registry[T]) Register(v T) {
	if _, dup := r.m[v.ID()]; dup {
		panic(r.kind + ": duplicate id " + v.ID())
	}
	r.m[v.ID()] = v
}

// Get returns the value with the given id.
func (r *Registry[T]) Get(id string) (T, bool) {
	v, ok := r.m[id]
	return v, ok
}

// IDs returns every registered id, sorted.
func (r *Registry[T]) IDs() []string {
	ids := make([]string, 0, len(r.m))
	for id := range r.m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}
