// Command steady walks an on-call engineer through a data-inconsistency
// incident of a Django + PostgreSQL + Redis + Celery application: the
// runbook as a live checklist, read-only probes, confirmed fixes and a
// tamper-evident journal that becomes the postmortem.
//
// # Layer
//
// The command is the top of the tree, where everything is put together:
// it reads the configuration (config, profile, discover), loads the
// runbook, opens the target and the incident session, and hands it to a
// screen (tui, or serve over SSH), to drill or to report. Its check and
// act commands run probes and actions through the same session; check
// also runs probes alone (probes) for cron. It uses actions, mdterm,
// secret, target and visible for what it prints and connects to.
//
// It counts in its messages with plural.
package main
