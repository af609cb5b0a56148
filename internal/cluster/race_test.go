//go:build race

package cluster

// raceEnabled: the race detector slows the workers several times; the
// bus test then uses a smaller capture and waits longer.
const raceEnabled = true
