package discover_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"steady/examples"
	"steady/internal/config"
	"steady/internal/discover"
	"steady/internal/profile"
	"steady/internal/sandbox/sandboxtest"
	"steady/internal/target"
)

// Started without a profile, steady discovers one through the manage
// command, keeps it, reuses it while the recorded migrations stay the
// same, learns again when they change, and falls back to the catalog when
// Django cannot start — saying each time which it did.
func TestAutoDiscoversKeepsAndRefreshes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	app := examples.NewRota(t, sandboxtest.Database(t), sandboxtest.Redis(t))
	app.MustManage(t, "migrate", "--noinput")
	cfg := config.Default()
	cfg.DB, cfg.Redis = app.DatabaseURL, app.CacheURL
	cfg.Django.Manage = app.ManageLine()
	tg := target.New(&cfg)
	defer tg.Close()
	cache := t.TempDir()

	o := discover.Auto(ctx, tg, cache)
	if o.Profile.Source != profile.SourceDjango || o.Profile.Shift.Table != "rostering_duty" || !strings.Contains(o.Note, "discovered from Django now") || o.Report == nil {
		t.Fatalf("first start: %s (%s)", o.Note, o.Profile.Source)
	}
	o = discover.Auto(ctx, tg, cache)
	if !strings.Contains(o.Note, "discovered from Django earlier") || o.Profile.Shift.Table != "rostering_duty" {
		t.Errorf("second start, nothing migrated: %s", o.Note)
	}
	conn, err := pgx.Connect(ctx, app.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `INSERT INTO django_migrations (app, name, applied) VALUES ('ledger', '0002_new', now())`); err != nil {
		t.Fatal(err)
	}
	if o = discover.Auto(ctx, tg, cache); !strings.Contains(o.Note, "discovered from Django now") {
		t.Errorf("after a migration was recorded: %s", o.Note)
	}

	broken := cfg
	broken.Django.Manage = "cd " + target.ShellQuote(app.Dir) + " && env DATABASE_URL= DJANGO_SETTINGS_MODULE=rotasite.settings " + target.ShellQuote(app.Python) + " manage.py"
	tb := target.New(&broken)
	defer tb.Close()
	o = discover.Auto(ctx, tb, t.TempDir())
	if o.Profile.Source != profile.SourceCatalog || !strings.Contains(o.Note, "Django could not start") || !strings.Contains(o.Note, "ImproperlyConfigured") {
		t.Errorf("Django down: %s (%s)", o.Note, o.Profile.Source)
	}
}
