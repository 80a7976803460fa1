package registry

import (
	"slices"
	"testing"
)

type thing string

func (t thing) ID() string { return string(t) }

func TestRegistry(t *testing.T) {
	r := New[thing]("things")
	r.Register("b")
	r.Register("a")
	if got := r.IDs(); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("IDs() = %v, want [a b]", got)
	}
	if v, ok := r.Get("a"); !ok || v != "a" {
		t.Errorf("Get(a) = %q, %v", v, ok)
	}
	if _, ok := r.Get("c"); ok {
		t.Error("Get(c) found an unregistered id")
	}
	defer func() {
		if p := recover(); p != "things: duplicate id a" {
			t.Errorf("a duplicate id: panic %v", p)
		}
	}()
	r.Register("a")
}
