//go:build race

package rollover

// raceEnabled scales the randomised test down under the race detector,
// which slows the crypto and the simulation about fivefold.
const raceEnabled = true
