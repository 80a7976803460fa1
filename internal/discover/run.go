package discover

import (
	"context"
	"time"

	"steady/internal/django"
)

// DjangoOptions say how to reach the project.
type DjangoOptions = django.ShellOptions

// DjangoError is a manage command that did not give a result.
type DjangoError = django.ShellError

// Django runs the discovery script through `<manage> shell` and returns
// what it read of the project.
func Django(ctx context.Context, o DjangoOptions) (*Facts, error) {
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Minute
	}
	body, err := django.Shell(ctx, o, script, beginMarker, endMarker)
	if err != nil {
		return nil, err
	}
	facts, err := ParseOutput(beginMarker + body + endMarker)
	if err != nil {
		return nil, &DjangoError{Line: o.Manage + " shell", Why: err.Error()}
	}
	if facts.Error != "" {
		return nil, &DjangoError{Line: o.Manage + " shell", Why: "Django could not be read", Last: facts.Error}
	}
	return facts, nil
}
