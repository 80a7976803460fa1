// Package layers holds steady's rule of who may talk to whom, as a test
// that runs with the suite: which steady packages each package may import,
// which it may only name the types and constants of, and where the
// terminal and the database clients may be imported. The rule is the
// table in layers_test.go; the README's Architecture section draws it.
package layers
