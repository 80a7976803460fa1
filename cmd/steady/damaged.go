package main

import (
	"errors"
	"fmt"
	"io"

	"steady/internal/session"
)

// A journal that does not verify is never appended to (whatever steady
// added would seem to vouch for what is there). The incident goes on in a
// new journal whose first event links the damaged one, so the postmortem
// can follow both.

// refuseDamaged explains a journal steady will not append to, where it
// breaks, and the command that goes on in a new incident; it returns nil
// when err is about something else.
func refuseDamaged(err error, again string) error {
	var de *session.DamagedError
	if !errors.As(err, &de) {
		return nil
	}
	return exitf(exitFound, "%v.\nGo on in a new incident that links it: %s\n(`steady report verify %s` lists the problems; `steady report %s` still writes its postmortem.)",
		de, again, de.Path, de.Path)
}

// followsDamaged returns the link a new incident keeps to the latest
// unfinished incident of dir when that one's journal does not verify, or
// nil.
func followsDamaged(dir string) *session.Link {
	inf, ok := session.LatestUnfinished(dir)
	if !ok {
		return nil
	}
	if de := session.Damaged(inf.Path); de != nil {
		return de.Link()
	}
	return nil
}

// sayOpened tells which incident was opened, and which damaged one it
// continues.
func sayOpened(w io.Writer, s *session.Session, follows *session.Link) {
	fmt.Fprintf(w, "steady: opened incident %s (journal %s)\n", s.ID(), s.JournalPath())
	if follows != nil {
		fmt.Fprintf(w, "steady: it continues incident %s (%s), which was not resumed: %s\n", follows.ID, follows.Journal, follows.Why)
	}
}
