package config

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// Sample renders the default configuration as a steady.yaml, with a comment
// naming the flag and environment variable of each key that has them, and
// the range of each number and duration.
func Sample() string {
	var doc yaml.Node
	if err := doc.Encode(Default()); err != nil {
		return "# cannot render defaults: " + err.Error() + "\n"
	}
	byKey := map[string]Binding{}
	for _, b := range Bindings {
		byKey[b.Key] = b
	}
	annotate(&doc, "", byKey)
	out, err := yaml.Marshal(&doc)
	if err != nil {
		return "# cannot render defaults: " + err.Error() + "\n"
	}
	return "# steady.yaml: flags > environment > this file > defaults.\n" + string(out)
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
		if b, ok := byKey[key]; ok {
			n.Content[i].HeadComment = b.Usage + "\nflag --" + b.Flag + ", env " + b.Env
		}
		if r, ok := DurationRanges[key]; ok {
			n.Content[i+1].LineComment = fmt.Sprintf("%s to %s", Duration(r[0]), Duration(r[1]))
		}
		if r, ok := IntRanges[key]; ok && !strings.HasPrefix(key, "profile.") {
			n.Content[i+1].LineComment = fmt.Sprintf("%d to %d", r[0], r[1])
		}
		annotate(n.Content[i+1], key, byKey)
	}
}
