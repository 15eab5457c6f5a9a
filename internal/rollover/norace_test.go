//go:build !race

package rollover

const raceEnabled = false
