package tui

import (
	"strings"

	"steady/internal/session"
)

// filterRows returns the indexes of the rows that stay visible for a
// query: items whose title, id, bound probe or action, or status contain
// every word of the query (case-insensitively), causes likewise, and the
// section and path headings above anything kept. An empty query keeps
// every row.
func filterRows(rows []row, query string, states map[string]session.ItemState) []int {
	words := strings.Fields(strings.ToLower(query))
	out := make([]int, 0, len(rows))
	if len(words) == 0 {
		for i := range rows {
			out = append(out, i)
		}
		return out
	}
	section, path := -1, -1
	for i, r := range rows {
		switch r.kind {
		case rowSection:
			section, path = i, -1
			continue
		case rowPath:
			path = i
			continue
		}
		if !matches(r.searchText(states), words) {
			continue
		}
		if section >= 0 {
			out = append(out, section)
			section = -1
		}
		if path >= 0 {
			out = append(out, path)
			path = -1
		}
		out = append(out, i)
	}
	return out
}

func matches(text string, words []string) bool {
	text = strings.ToLower(text)
	for _, w := range words {
		if !strings.Contains(text, w) {
			return false
		}
	}
	return true
}

// searchText is what the filter looks in for a row.
func (r row) searchText(states map[string]session.ItemState) string {
	switch {
	case r.item != nil:
		parts := []string{r.item.ID, r.item.Title, string(states[r.item.ID].Status)}
		if b := r.item.Binding; b != nil {
			parts = append(parts, b.Kind(), b.Target())
		}
		if r.item.Cause != "" {
			parts = append(parts, r.item.Cause)
		}
		return strings.Join(parts, " ")
	case r.cause != nil:
		return strings.Join([]string{r.cause.ID, r.cause.Title, r.cause.Likelihood, "cause"}, " ")
	}
	return ""
}
