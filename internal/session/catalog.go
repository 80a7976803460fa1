package session

import (
	"slices"

	"steady/probes"
	"steady/runbook"
)

// What a screen may know before anything runs: a probe's title and the
// parameters it asks for, and the related runbooks, to read. Screens ask
// the session; they never look probes or runbook files up themselves.

// ProbeInfo describes a probe for a screen.
type ProbeInfo struct {
	ID    string
	Title string
	// Needs are the parameters the operator gives before it runs for the
	// item: those its binding asks for, and required ones nothing fills.
	Needs []probes.Param
}

// Probe describes a probe as it would run for an item (any probe, with
// item ""); ok is false when this build of steady has no such probe.
func (s *Session) Probe(item, probeID string) (ProbeInfo, bool) {
	p, ok := probes.Get(probeID)
	if !ok {
		return ProbeInfo{}, false
	}
	return ProbeInfo{ID: p.ID(), Title: p.Title(), Needs: probes.NeedsInput(p, s.binding(item))}, true
}

// binding returns the parameters the runbook binds to an item's probe or
// action, or nil.
func (s *Session) binding(item string) map[string]string {
	if it := s.rb.Item(item); it != nil && it.Binding != nil {
		return it.Binding.Params
	}
	return nil
}

// RelatedRunbooks names the runbooks the incident's runbook lists as
// related or, when it lists none, every other runbook steady knows: built
// in, or in the runbooks directory.
func (s *Session) RelatedRunbooks() []string {
	if len(s.rb.Meta.Related) > 0 {
		return slices.Clone(s.rb.Meta.Related)
	}
	entries, err := runbook.List(s.runbooks)
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		if e.Name != s.rb.Name {
			names = append(names, e.Name)
		}
	}
	return names
}

// ReadRunbook reads a runbook by name for reading only: it is parsed, not
// checked against the probes and actions, since nothing in it will run.
func (s *Session) ReadRunbook(name string) (*runbook.Runbook, error) {
	file, src, err := runbook.Read(name, s.runbooks)
	if err != nil {
		return nil, err
	}
	rb, _ := runbook.Parse(file, src)
	return rb, nil
}
