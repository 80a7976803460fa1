// Command steady walks an on-call engineer through a data-inconsistency
// incident of a Django + PostgreSQL + Redis + Celery application: the
// runbook as a live checklist, read-only probes, confirmed fixes and a
// tamper-evident journal that becomes the postmortem.
package main

import (
	"errors"
	"fmt"
	"os"

	"steady/visible"
)

func main() {
	err := newRoot().Execute()
	if err == nil {
		return
	}
	var ex *exitError
	if errors.As(err, &ex) {
		if ex.msg != "" {
			fmt.Fprintln(os.Stderr, "steady: "+visible.Lines(ex.msg))
		}
		os.Exit(ex.code)
	}
	fmt.Fprintln(os.Stderr, "steady: "+visible.Lines(err.Error()))
	os.Exit(exitUsage)
}
