// Package codesize holds the test that keeps steady's functions a size a reader can hold:
// no production function longer than 80 body lines or more complex than 20 (cyclomatic,
// counted the way gocyclo counts it).
package codesize
