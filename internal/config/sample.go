package config

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/x/ansi"
	"gopkg.in/yaml.v3"
)

// Sample renders the default configuration as a steady.yaml in which every
// key carries what it means (keyDocs, from the fields' comments), its flag
// and environment variable when it has them, and the range of each number
// and duration. The profile is left out: it describes one application,
// and `steady init` writes the team's own.
func Sample() string {
	var doc yaml.Node
	if err := doc.Encode(Default()); err != nil {
		return "# cannot render defaults: " + err.Error() + "\n"
	}
	byKey := map[string]Binding{}
	for _, b := range Bindings {
		byKey[b.Key] = b
	}
	dropKey(&doc, "profile")
	annotate(&doc, "", byKey)
	doc.FootComment = "profile: the application profile (every table, column, status value, cache key and task\n" +
		"steady uses, by role) is written here by `steady init`, which learns it from Django;\n" +
		"without one, steady learns it when it starts (`steady config` says which it uses)."
	out, err := yaml.Marshal(&doc)
	if err != nil {
		return "# cannot render defaults: " + err.Error() + "\n"
	}
	return "# steady.yaml: flags > environment > this file > defaults; every value below is a default.\n\n" + string(out)
}

// dropKey removes key from a mapping node.
func dropKey(n *yaml.Node, key string) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			n.Content = append(n.Content[:i], n.Content[i+2:]...)
			return
		}
	}
}

func annotate(n *yaml.Node, prefix string, byKey map[string]Binding) {
	if n.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key := n.Content[i].Value
		if prefix != "" {
			key = prefix + "." + key
		}
		comment := ansi.Wordwrap(keyDocs[key], 78-4*strings.Count(key, "."), "")
		if b, ok := byKey[key]; ok {
			comment += "\nflag --" + b.Flag + ", env " + b.Env
		}
		n.Content[i].HeadComment = comment
		if r, ok := DurationRanges[key]; ok {
			n.Content[i+1].LineComment = fmt.Sprintf("%s to %s", Duration(r[0]), Duration(r[1]))
		}
		if r, ok := IntRanges[key]; ok {
			n.Content[i+1].LineComment = fmt.Sprintf("%d to %d", r[0], r[1])
		}
		annotate(n.Content[i+1], key, byKey)
	}
}
