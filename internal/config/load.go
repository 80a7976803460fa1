package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"steady/internal/profile"
	"steady/internal/secret"
)

// Binding ties a configuration key to its command-line flag and its
// environment variable. These names are part of steady's interface.
type Binding struct {
	Key   string // yaml key, e.g. "db"
	Flag  string // flag name without dashes
	Env   string // environment variable
	Usage string // flag help
}

// Bindings are the settings that may come from a flag or the environment.
// Every other key comes from steady.yaml or its default.
var Bindings = []Binding{
	{"db", "db", "DATABASE_URL", "the application's PostgreSQL, e.g. postgres://app@db:5432/app"},
	{"redis", "redis", "REDIS_URL", "the Redis holding the Django cache, db number in the URL, e.g. redis://cache:6379/1"},
	{"broker", "broker", "CELERY_BROKER_URL", "the Celery broker (Redis), e.g. redis://cache:6379/0"},
	{"results", "results", "CELERY_RESULT_BACKEND", "the Celery result backend (default: the broker)"},
	{"django.dir", "django-dir", "STEADY_DJANGO_DIR", "the Django project directory (migration files are read from it)"},
	{"django.manage", "manage", "STEADY_MANAGE", "command prefix that runs manage.py, e.g. \"docker compose exec -T web python manage.py\""},
	{"journal_dir", "journal-dir", "STEADY_JOURNAL_DIR", "where incident journals go"},
	{"backup_dir", "backup-dir", "STEADY_BACKUP_DIR", "where backups go"},
	{"runbooks", "runbooks", "STEADY_RUNBOOKS", "a directory of runbooks besides the embedded ones"},
}

// ConfigFlag and ConfigEnv name the configuration file's flag and variable.
const (
	ConfigFlag  = "config"
	ConfigEnv   = "STEADY_CONFIG"
	DefaultFile = "steady.yaml"
)

// Source says where a value came from.
type Source struct {
	Kind string // "default", "file", "env", "flag"
	Name string // file path, variable or flag name
	Line int    // the line in the file, for "file"
}

// Where says where a value was set, as a person would look for it:
// FILE:LINE, $VARIABLE or --flag ("" for a default).
func (s Source) Where() string {
	switch s.Kind {
	case "file":
		if s.Line > 0 {
			return fmt.Sprintf("%s:%d", s.Name, s.Line)
		}
		return s.Name
	case "env", "flag":
		return s.String()
	}
	return ""
}

func (s Source) String() string {
	switch s.Kind {
	case "file":
		return s.Name
	case "env":
		return "$" + s.Name
	case "flag":
		return "--" + s.Name
	}
	return "default"
}

// Loaded is a configuration together with where each value came from.
type Loaded struct {
	Config
	// File is the steady.yaml that was read, or "" when none was.
	File string
	// Sources maps yaml keys (e.g. "django.tables.shift") to their origin;
	// keys not present came from the defaults.
	Sources map[string]Source
}

// Source returns where key's value came from.
func (l *Loaded) Source(key string) Source {
	if s, ok := l.Sources[key]; ok {
		return s
	}
	return Source{Kind: "default"}
}

// AddFlags registers --config and the flag of every Binding on fs.
func AddFlags(fs *pflag.FlagSet) {
	fs.String(ConfigFlag, "", "configuration file (default ./"+DefaultFile+" when present; env "+ConfigEnv+")")
	for _, b := range Bindings {
		fs.String(b.Flag, "", b.Usage+" (env "+b.Env+")")
	}
}

// Load builds the configuration: defaults, then the YAML file (--config,
// $STEADY_CONFIG, or ./steady.yaml when present), then the environment,
// then the flags that were set on fs (fs may be nil). getenv is usually
// os.Getenv.
func Load(fs *pflag.FlagSet, getenv func(string) string) (*Loaded, error) {
	l := &Loaded{Config: Default(), Sources: map[string]Source{}}
	if err := l.loadFile(fs, getenv); err != nil {
		return nil, err
	}
	for _, b := range Bindings {
		if v := getenv(b.Env); v != "" {
			if err := l.set(b.Key, v); err != nil {
				return nil, fmt.Errorf("$%s: %w", b.Env, err)
			}
			l.Sources[b.Key] = Source{Kind: "env", Name: b.Env}
		}
	}
	if err := l.applyFlags(fs); err != nil {
		return nil, err
	}
	if err := l.Validate(); err != nil {
		var ie *InvalidError
		if errors.As(err, &ie) {
			ie.where = l.where
		}
		return nil, err
	}
	return l, nil
}

// loadFile applies the configuration file: the one --config or its
// environment variable names, else steady.yaml when there is one.
func (l *Loaded) loadFile(fs *pflag.FlagSet, getenv func(string) string) error {
	path, explicit := "", false
	if fs != nil {
		if f := fs.Lookup(ConfigFlag); f != nil && f.Changed {
			path, explicit = f.Value.String(), true
		}
	}
	if path == "" && getenv(ConfigEnv) != "" {
		path, explicit = getenv(ConfigEnv), true
	}
	if path == "" {
		if _, err := os.Stat(DefaultFile); err == nil {
			path = DefaultFile
		}
	}
	if path == "" {
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if explicit {
			return fmt.Errorf("read configuration: %w", err)
		}
		return fmt.Errorf("read %s: %w", path, err)
	}
	if err := l.applyYAML(path, data); err != nil {
		return err
	}
	l.File = path
	return nil
}

// applyFlags applies the flags given, over the file and the environment.
func (l *Loaded) applyFlags(fs *pflag.FlagSet) error {
	if fs == nil {
		return nil
	}
	for _, b := range Bindings {
		f := fs.Lookup(b.Flag)
		if f == nil || !f.Changed {
			continue
		}
		if err := l.set(b.Key, f.Value.String()); err != nil {
			return fmt.Errorf("--%s: %w", b.Flag, err)
		}
		l.Sources[b.Key] = Source{Kind: "flag", Name: b.Flag}
	}
	return nil
}

// where says where key, or the nearest key above it, was set.
func (l *Loaded) where(key string) string {
	for k := key; k != ""; {
		if s, ok := l.Sources[k]; ok {
			return s.Where()
		}
		i := strings.LastIndexByte(k, '.')
		if i < 0 {
			break
		}
		k = k[:i]
	}
	return ""
}

// applyYAML decodes data over the defaults, refusing unknown keys, and
// records every key present in the file as coming from it.
func (l *Loaded) applyYAML(path string, data []byte) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return fmt.Errorf("%s: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	// A profile in the file stands alone: it describes another
	// application, so none of the example application's names may leak
	// into the fields it leaves out.
	if len(root.Content) > 0 && hasKey(root.Content[0], "profile") {
		l.Config.Profile = profile.Profile{}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&l.Config); err != nil {
		return fmt.Errorf("%s: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(root.Content) > 0 {
		markSources(root.Content[0], "", Source{Kind: "file", Name: path}, l.Sources)
	}
	return nil
}

func hasKey(n *yaml.Node, key string) bool {
	if n.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return true
		}
	}
	return false
}

// ProfileGiven reports whether the configuration file holds a profile;
// without one steady discovers the application (or falls back to the
// example application's names).
func (l *Loaded) ProfileGiven() bool {
	for k := range l.Sources {
		if k == "profile" || strings.HasPrefix(k, "profile.") {
			return true
		}
	}
	return false
}

func markSources(n *yaml.Node, prefix string, src Source, out map[string]Source) {
	if n.Kind != yaml.MappingNode {
		if prefix != "" {
			src.Line = n.Line
			out[prefix] = src
		}
		return
	}
	if prefix != "" {
		// The mapping itself, so a problem with a key it leaves out (or
		// with the mapping as a whole) can point at it.
		at := src
		at.Line = n.Line
		if _, ok := out[prefix]; !ok {
			out[prefix] = at
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key := n.Content[i].Value
		if prefix != "" {
			key = prefix + "." + key
		}
		markSources(n.Content[i+1], key, src, out)
	}
}

// set assigns a string value to the field named by a dotted yaml key.
func (l *Loaded) set(key, value string) error {
	f, ok := fieldByKey(reflect.ValueOf(&l.Config).Elem(), key)
	if !ok {
		return fmt.Errorf("unknown setting %q", key)
	}
	switch f.Kind() {
	case reflect.String:
		f.SetString(value)
	case reflect.Int:
		n, err := strconv.Atoi(value)
		if err != nil {
			return fmt.Errorf("%q is not a number", value)
		}
		f.SetInt(int64(n))
	default:
		return fmt.Errorf("setting %q cannot be set from text", key)
	}
	return nil
}

func fieldByKey(v reflect.Value, key string) (reflect.Value, bool) {
	for _, part := range strings.Split(key, ".") {
		if v.Kind() != reflect.Struct {
			return reflect.Value{}, false
		}
		found := false
		for i := 0; i < v.NumField(); i++ {
			if yamlName(v.Type().Field(i)) == part {
				v, found = v.Field(i), true
				break
			}
		}
		if !found {
			return reflect.Value{}, false
		}
	}
	return v, true
}

func yamlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return name
}

// Setting is one leaf of the configuration as `steady config` prints it.
type Setting struct {
	Key    string
	Value  string // redacted
	Source Source
}

// Settings lists every leaf value, redacted, in a stable order.
func (l *Loaded) Settings() []Setting {
	var out []Setting
	walk(reflect.ValueOf(l.Config), "", func(key string, v reflect.Value) {
		out = append(out, Setting{Key: key, Value: display(v), Source: l.Source(key)})
	})
	return out
}

func walk(v reflect.Value, prefix string, fn func(string, reflect.Value)) {
	if v.Kind() == reflect.Struct && v.Type() != reflect.TypeOf(Duration(0)) {
		for i := 0; i < v.NumField(); i++ {
			key := yamlName(v.Type().Field(i))
			if prefix != "" {
				key = prefix + "." + key
			}
			walk(v.Field(i), key, fn)
		}
		return
	}
	fn(prefix, v)
}

func display(v reflect.Value) string {
	switch x := v.Interface().(type) {
	case string:
		return secret.RedactURL(x)
	case Duration:
		return x.String()
	case []string:
		red := make([]string, len(x))
		for i, s := range x {
			red[i] = secret.RedactText(s)
		}
		if len(red) == 0 {
			return ""
		}
		return "[" + strings.Join(red, ", ") + "]"
	case []profile.Constraint:
		names := make([]string, len(x))
		for i, c := range x {
			names[i] = c.Label()
		}
		if len(names) == 0 {
			return ""
		}
		return fmt.Sprintf("%d: %s", len(names), strings.Join(names, ", "))
	case map[string][]string:
		if len(x) == 0 {
			return ""
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + ": " + strings.Join(x[k], " ")
		}
		return "{" + strings.Join(parts, "; ") + "}"
	}
	return fmt.Sprint(v.Interface())
}

// Secrets returns every password found in the configured URLs, so output
// that quotes them some other way can be scrubbed.
func (c *Config) Secrets() []string {
	var out []string
	for _, u := range []string{c.DB, c.Redis, c.Broker, c.Results} {
		out = append(out, secret.Passwords(u)...)
	}
	return out
}

// ErrNoTarget is returned by RequireTarget when nothing to probe is configured.
var ErrNoTarget = errors.New("no database or Redis configured: give --db/--redis (or DATABASE_URL/REDIS_URL, or steady.yaml), or try `steady drill` for a sandbox")

// RequireTarget fails with ErrNoTarget when neither a database nor a Redis is set.
func (c *Config) RequireTarget() error {
	if c.DB == "" && c.Redis == "" && c.Broker == "" {
		return ErrNoTarget
	}
	return nil
}
