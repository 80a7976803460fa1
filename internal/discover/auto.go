package discover

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"gopkg.in/yaml.v3"

	"steady/internal/profile"
	"steady/internal/target"
)

// DefaultCacheDir is where discovered profiles are kept between runs.
const DefaultCacheDir = ".steady/profiles"

// State returns a digest of the migrations recorded in django_migrations:
// a profile learnt at one state holds until a migration is applied or
// unapplied. "" when the database cannot say.
func State(ctx context.Context, t *target.Target) string {
	if t.Config().DB == "" {
		return ""
	}
	var keys []string
	err := t.ReadOnly(ctx, func(ctx context.Context, tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT app || '.' || name FROM django_migrations`)
		if err != nil {
			return err
		}
		keys, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		return ""
	}
	sort.Strings(keys)
	sum := sha256.Sum256([]byte(strings.Join(keys, "\n")))
	return "migrations:" + hex.EncodeToString(sum[:8])
}

// Outcome says which profile Auto settled on and why, in one line.
type Outcome struct {
	Profile profile.Profile
	Note    string
	// Report is the mapping report when discovery ran now (nil when the
	// profile came from the cache or the defaults).
	Report *Report
}

// Auto finds the profile for a steady started without one in
// steady.yaml: discovered from Django through the manage command (kept in
// cacheDir, reused while the migration state is the same), else guessed
// from the database catalog, else the example application's names.
func Auto(ctx context.Context, t *target.Target, cacheDir string) Outcome {
	cfg := t.Config()
	manage := cfg.Django.Manage
	state := State(ctx, t)
	var djangoErr error
	if manage != "" {
		cwd, _ := os.Getwd()
		// The script is part of the key: a steady that learns more does
		// not reuse what an older one learnt.
		path := cachePath(cacheDir, manage+"\x00"+cfg.Django.Dir+"\x00"+cwd+"\x00"+script)
		if p, ok := readCached(path); ok && (state == "" || p.State == state) {
			note := "profile: discovered from Django earlier (" + path + "), migration state unchanged"
			if state == "" {
				note = "profile: discovered from Django earlier (" + path + "); the migration state could not be checked"
			}
			return Outcome{Profile: p, Note: note}
		}
		facts, err := Django(ctx, DjangoOptions{Manage: manage, Dir: cfg.Django.Dir, Grace: cfg.Actions.KillGrace.D()})
		if err == nil {
			p, r := Map(facts, nil)
			p.State, p.Learned = state, time.Now().UTC().Format(time.RFC3339)
			note := "profile: discovered from Django now (" + p.Project + ")"
			if werr := writeCached(path, p); werr == nil {
				note += ", kept in " + path
			}
			note += "; `steady init` writes it to steady.yaml to review"
			return Outcome{Profile: p, Note: note, Report: r}
		}
		djangoErr = err
	}
	if cfg.DB != "" {
		p, r, err := Catalog(ctx, t, nil)
		if err == nil {
			p.State = state
			note := "profile: guessed from the database catalog (every role is a guess); `steady init` to review"
			if djangoErr != nil {
				note = "profile: Django could not start (" + t.Scrubber.Scrub(djangoErr.Error()) + "); guessed from the database catalog instead (every role is a guess)"
			}
			return Outcome{Profile: p, Note: note, Report: r}
		}
	}
	note := "profile: none given and none could be learnt; using steady's example application's names (`steady init` learns yours)"
	if djangoErr != nil {
		note = "profile: Django could not start (" + t.Scrubber.Scrub(djangoErr.Error()) + ") and the catalog could not be read; using steady's example application's names"
	}
	return Outcome{Profile: profile.Example(), Note: note}
}

// cachePath names the cached profile of one project: the manage command
// run from one place.
func cachePath(dir, project string) string {
	sum := sha256.Sum256([]byte(project))
	return filepath.Join(dir, "profile-"+hex.EncodeToString(sum[:6])+".yaml")
}

func readCached(path string) (profile.Profile, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return profile.Profile{}, false
	}
	var p profile.Profile
	if yaml.Unmarshal(b, &p) != nil || p.Source == "" || len(p.Validate()) > 0 {
		return profile.Profile{}, false
	}
	return p, true
}

func writeCached(path string, p profile.Profile) error {
	b, err := yaml.Marshal(p)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append([]byte("# steady's profile discovered from Django; regenerated when the migrations change.\n"), b...), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// ErrNoSource means there is neither a manage command nor a database to
// learn the application from.
var ErrNoSource = errors.New("nothing to learn the application from: give --manage (the command running manage.py) or --db")

// Learn is `steady init`'s discovery: Django through the manage command,
// falling back to the catalog when Django cannot start (djangoErr then
// says why). choose settles roles with several candidates.
func Learn(ctx context.Context, t *target.Target, choose Chooser, catalogOnly bool) (p profile.Profile, r *Report, djangoErr error, err error) {
	cfg := t.Config()
	if cfg.Django.Manage == "" && cfg.DB == "" {
		return p, nil, nil, ErrNoSource
	}
	state := State(ctx, t)
	if cfg.Django.Manage != "" && !catalogOnly {
		facts, derr := Django(ctx, DjangoOptions{Manage: cfg.Django.Manage, Dir: cfg.Django.Dir, Grace: cfg.Actions.KillGrace.D()})
		if derr == nil {
			p, r = Map(facts, choose)
			p.State, p.Learned = state, time.Now().UTC().Format(time.RFC3339)
			return p, r, nil, nil
		}
		djangoErr = derr
	}
	if cfg.DB == "" {
		return p, nil, djangoErr, fmt.Errorf("Django could not be read and no database is configured to fall back on (give --db): %w", djangoErr)
	}
	p, r, err = Catalog(ctx, t, choose)
	if err != nil {
		return p, nil, djangoErr, err
	}
	p.State, p.Learned = state, time.Now().UTC().Format(time.RFC3339)
	return p, r, djangoErr, nil
}
