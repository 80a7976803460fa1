package main

import (
	"steady/actions"
	"steady/probes"
	"steady/runbook"
)

// known tells the runbook checker what this build can carry out.
func known() runbook.Known {
	return runbook.Known{
		Probes:  probes.IDs(),
		Actions: actions.IDs(),
		Params: func(kind, id string, params map[string]string) []string {
			switch kind {
			case "probe":
				if p, ok := probes.Get(id); ok {
					return probes.CheckParams(p, params)
				}
			case "action":
				if a, ok := actions.Get(id); ok {
					return probes.CheckDeclared(a.Params(), params)
				}
			}
			return nil
		},
	}
}
