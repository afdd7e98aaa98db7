//go:build race

package dedup

// raceEnabled: the race detector disables sync.Pool caching, so
// allocation counts mean nothing under it.
const raceEnabled = true
