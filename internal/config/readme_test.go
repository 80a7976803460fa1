package config

import (
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The README's configuration section agrees with the program: its tables
// of flags and of keys are written from Bindings and keyDocs (-update
// rewrites them), its example steady.yaml names only keys that exist and
// shows no default the program does not have, and every key it mentions
// anywhere exists.

const readme = "../../README.md"

func readREADME(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// defaultValues maps every key to its default as `steady config` shows it.
func defaultValues() map[string]string {
	def := &Loaded{Config: Default()}
	values := map[string]string{}
	for _, s := range def.Settings() {
		values[s.Key] = s.Value
	}
	return values
}

// flagTable is the README's table of flags and environment variables.
func flagTable() string {
	defaults := defaultValues()
	var b strings.Builder
	b.WriteString("| flag | environment | meaning |\n| --- | --- | --- |\n")
	fmt.Fprintf(&b, "| `--%s` | `%s` | the steady.yaml to read (default `./%s` when present) |\n", ConfigFlag, ConfigEnv, DefaultFile)
	for _, bd := range Bindings {
		meaning := bd.Usage
		if d := defaults[bd.Key]; d != "" {
			meaning += fmt.Sprintf(" (default `%s`)", d)
		}
		fmt.Fprintf(&b, "| `--%s` | `%s` | %s |\n", bd.Flag, bd.Env, cellText(meaning))
	}
	return b.String()
}

// keyTable is the README's table of every key of steady.yaml.
func keyTable() string {
	values := defaultValues()
	var b strings.Builder
	b.WriteString("| key | default | meaning |\n| --- | --- | --- |\n")
	walk(reflect.ValueOf(Default()), "", func(key string, _ reflect.Value) {
		if strings.HasPrefix(key, "profile") {
			return
		}
		doc := keyDocs[key]
		name := key[strings.LastIndexByte(key, '.')+1:]
		// "db is the application's PostgreSQL" reads "the application's
		// PostgreSQL" in the row of db; "operator names …", "names …".
		for _, after := range []string{" is ", " are ", ", ", " "} {
			if rest, ok := strings.CutPrefix(doc, name+after); ok {
				doc = rest
				break
			}
		}
		d := values[key]
		if d != "" {
			d = "`" + d + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", key, d, cellText(doc))
	})
	return b.String()
}

func cellText(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// section returns the text between the README's markers of a generated
// table, and the whole README with want put there instead.
func section(t *testing.T, doc, name, want string) (got, updated string) {
	t.Helper()
	start := regexp.MustCompile(`<!-- ` + name + `: [^>]*-->\n`).FindStringIndex(doc)
	end := strings.Index(doc, "<!-- end "+name+" -->")
	if start == nil || end < start[1] {
		t.Fatalf("README.md has no <!-- %s: … --> … <!-- end %s --> section", name, name)
	}
	return doc[start[1]:end], doc[:start[1]] + want + doc[end:]
}

func TestREADMEConfigurationTablesAreWrittenFromTheProgram(t *testing.T) {
	doc := readREADME(t)
	for _, tb := range []struct{ name, want string }{{"flags", flagTable()}, {"keys", keyTable()}} {
		got, updated := section(t, doc, tb.name, tb.want)
		if got == tb.want {
			continue
		}
		if *update {
			doc = updated
			continue
		}
		t.Errorf("README.md's table of %s differs from the program's (go test ./internal/config -update rewrites it):\n%s", tb.name, got)
	}
	if *update {
		if err := os.WriteFile(readme, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// The README's example steady.yaml loads as steady.yaml would (no
// unknown key), and where it shows a key that has a default, it shows
// that default: an example may fill in a team's own servers and
// commands, not move a default.
func TestREADMEExampleSteadyYAMLShowsOnlyRealKeysAndDefaults(t *testing.T) {
	doc := readREADME(t)
	_, rest, ok := strings.Cut(doc, "For a team that runs its application with docker compose, it might read")
	if !ok {
		t.Fatal("README.md has no example steady.yaml")
	}
	_, rest, _ = strings.Cut(rest, "```yaml\n")
	block, _, _ := strings.Cut(rest, "```")
	l := &Loaded{Config: Default(), Sources: map[string]Source{}}
	if err := l.applyYAML("README.md", []byte(block)); err != nil {
		t.Fatalf("the README's example steady.yaml does not load: %v", err)
	}
	if err := l.Validate(); err != nil {
		t.Errorf("the README's example steady.yaml is not valid: %v", err)
	}
	defaults := defaultValues()
	for _, s := range l.Settings() {
		if _, set := l.Sources[s.Key]; !set || defaults[s.Key] == "" {
			continue
		}
		if s.Value != defaults[s.Key] {
			t.Errorf("the README shows %s: %s, but its default is %s", s.Key, s.Value, defaults[s.Key])
		}
	}
	var probe yaml.Node
	if err := yaml.Unmarshal([]byte(block), &probe); err != nil || len(probe.Content) == 0 {
		t.Fatalf("the example is not YAML: %v", err)
	}
}

// Every key the README names (`probes.connect_timeout`,
// `actions.repair_mode: sql`, `serve.operators`) is a key of steady.yaml.
func TestREADMENamesOnlyKeysThatExist(t *testing.T) {
	doc := readREADME(t)
	known := map[string]bool{}
	for k := range keyDocs {
		known[k] = true
	}
	var unknown []string
	for _, m := range regexp.MustCompile("`((?:probes|django|audit|actions|serve)\\.[a-z_.]*[a-z_])").FindAllStringSubmatch(doc, -1) {
		if !known[m[1]] && !slices.Contains(unknown, m[1]) {
			unknown = append(unknown, m[1])
		}
	}
	if len(unknown) > 0 {
		t.Errorf("README.md names keys steady.yaml does not have: %s", strings.Join(unknown, ", "))
	}
	// Every key that holds a value has its row in the table of keys.
	walk(reflect.ValueOf(Default()), "", func(key string, _ reflect.Value) {
		if !strings.HasPrefix(key, "profile") && !strings.Contains(doc, "| `"+key+"` |") {
			t.Errorf("README.md's table of keys lacks %s", key)
		}
	})
}
