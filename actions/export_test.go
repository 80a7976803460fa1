package actions

import "steady/internal/target"

// DirectProbes is the test's ProbeRunner on t, for the tests that drive
// actions from outside the package.
func DirectProbes(t *target.Target) ProbeRunner { return direct{t} }
