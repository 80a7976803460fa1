package main

import (
	"errors"
	"fmt"
	"os"

	"steady/internal/visible"
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
