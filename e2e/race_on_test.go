//go:build race

package e2e

// raceEnabled is true when the tests run with -race; the proxy binary is
// then built with -race too.
const raceEnabled = true
