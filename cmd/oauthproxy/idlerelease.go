package main

import "time"

// idleReleaseEnv names the environment variable that sets how long `run`
// waits, idle after a burst, before it returns freed memory to the system.
// It exists for the memory test (cmd/oauthproxy.TestMemoryReturnedAfterLoad),
// which cannot wait the default in CI; users have no reason to set it.
const idleReleaseEnv = "OAUTHPROXY_IDLE_RELEASE_AFTER"

// defaultIdleRelease: after a burst, memory goes back to the system within
// a minute instead of several (docs/reliability.md, "Memory after load").
const defaultIdleRelease = 30 * time.Second

// idleReleaseAfter reads the value of idleReleaseEnv: a duration ("2s"),
// 0 for never, or "" for defaultIdleRelease.
func idleReleaseAfter(v string) (time.Duration, error) {
	if v == "" {
		return defaultIdleRelease, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, usagef("%s=%q: want a duration such as 30s (0: never)", idleReleaseEnv, v)
	}
	return d, nil
}
