// Package plural words counts in steady's messages: "1 line" and "3
// lines", "the stored summary agrees" and "all 3 stored summaries agree",
// "a, b and c". Every message that counts goes through it, so none reads
// "1 lines" or "all 1 … agree".
package plural

import (
	"fmt"
	"strings"
)

// Count writes n with the noun that fits it: "0 lines", "1 line", "3 lines".
func Count[N ~int | ~int64](n N, one, many string) string {
	return fmt.Sprintf("%d %s", n, Word(n, one, many))
}

// Word returns one when n is 1, else many: for a verb or a noun that
// follows a count given elsewhere ("1 key was", "3 keys were").
func Word[N ~int | ~int64](n N, one, many string) string {
	if n == 1 || n == -1 {
		return one
	}
	return many
}

// All names every one of n things, for a sentence that says what holds
// of them all: "0 stored summaries", "the 1 stored summary", "all 3
// stored summaries". The verb that follows takes Word(n, …).
func All[N ~int | ~int64](n N, one, many string) string {
	switch n {
	case 0:
		return "0 " + many
	case 1:
		return "the 1 " + one
	}
	return fmt.Sprintf("all %d %s", n, many)
}

// List joins items as a sentence does: "", "a", "a and b", "a, b and c".
func List(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}
