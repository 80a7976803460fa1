package main

import "fmt"

// Exit statuses, stable for scripts and cron.
const (
	// exitFound: the command ran and found a problem (a failing probe, a
	// broken chain, a refused or failed action).
	exitFound = 1
	// exitUsage: steady itself could not run (bad flags, bad runbook,
	// unreadable configuration, a command not yet available).
	exitUsage = 2
	// exitAborted: the operator aborted (ctrl+c at a prompt).
	exitAborted = 130
)

// exitError carries an exit status out of a command. An empty message
// means the command already said what it had to.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func exitf(code int, format string, a ...any) error {
	return &exitError{code: code, msg: fmt.Sprintf(format, a...)}
}

// silentExit ends with a status without a further message.
func silentExit(code int) error { return &exitError{code: code} }
