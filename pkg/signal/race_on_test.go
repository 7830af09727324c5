//go:build race

package signal

// raceEnabled reports whether the race detector is on: it doubles the
// runtime's stack guard and grows frames, so stack sizes are not those of
// a normal build.
const raceEnabled = true
