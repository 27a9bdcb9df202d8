// Package filelock takes exclusive advisory locks on open files, with
// flock(2) where the system has it, so that several oauthproxy processes
// sharing a data directory take turns (the code ledger's appends and
// compactions, the first start that writes the CA). Where the system has
// no flock, Supported is false and TryLock always succeeds: callers that
// need real exclusion there must check Supported.
package filelock
