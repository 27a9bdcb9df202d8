package redact

import (
	"container/list"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/oauthproxy/oauthproxy/internal/fuzzmode"
	"golang.org/x/crypto/argon2"
)

// A fingerprint is "redacted:<scheme>:<12 hex digits>:len=<N>". The scheme
// says how the 12 digits were made:
//
//   - sha256: the first 48 bits of SHA-256(value), for values a server
//     generates (codes, tokens, assertions, session cookies: a guess costs
//     as much as the value's entropy, far more than 48 bits);
//   - argon2id: the first 48 bits of Argon2id(value, public salt) with the
//     Argon* parameters below, for the fields people choose or keep for
//     long (passwords, client secrets, API keys, Basic credentials: Param
//     and FingerprintWeak decide by name): each offline guess costs
//     ArgonMemoryKiB of memory and tens of milliseconds;
//   - hmac-<key id>: the first 48 bits of HMAC-SHA256(key, value) for every
//     value when a fingerprint key is set (SetKey): without the key no guess
//     can be checked at all; the key id (8 hex digits) says which key, so
//     captures made with different keys are known not to be comparable.
//
// Every scheme is deterministic, so the same value gives the same
// fingerprint on every machine with the same key (or none): reuse detection
// across restarts and laptop-versus-server comparison keep working.

// Marker starts every redacted value made by this package.
const Marker = "redacted:"

// Prefix starts a fast (sha256) fingerprint.
const Prefix = "redacted:sha256:"

// SlowPrefix starts a memory-hard (argon2id) fingerprint.
const SlowPrefix = "redacted:argon2id:"

// keyedScheme starts the scheme of a keyed fingerprint: "hmac-" + key id.
const keyedScheme = "hmac-"

// Argon2id parameters of the argon2id scheme: m=7 MiB, t=5, p=1, one of
// OWASP's equivalent minimums (with m=19 MiB, t=2): the same work per guess
// for a third of the memory, which the proxy pays once per distinct
// guessable value while it serves. They are part of the format: changing
// them changes every slow fingerprint, so they are fixed per format version.
const (
	ArgonTime      = 5
	ArgonMemoryKiB = 7 * 1024
	ArgonThreads   = 1
)

// ArgonSalt is the fixed public salt of the argon2id scheme. It is the same
// for every field: one secret often travels in several places (a client
// secret in a Basic header, a form body, an echoed error text) and must
// fingerprint the same in each to be compared.
const ArgonSalt = "oauthproxy fingerprint v1"

// Fingerprint returns the stable fingerprint of v. An empty value stays
// empty, and a value that already is a fingerprint is returned as is.
// It is the fast scheme, for values a server generates; fields people
// choose go through Param or FingerprintWeak. With a key set every value
// gets the keyed one.
//
// The choice is by field, not by guessing from the value: an estimate of
// a value's entropy sent every short test code and repetitive padded token
// to the memory-hard hash (a 60 ms, 7 MiB detour per distinct value on the
// proxy's path) without protecting anything a server had generated.
func Fingerprint(v string) string {
	return fingerprint(v, false)
}

// FingerprintWeak is Fingerprint for a value known to be human-chosen or
// guessable whatever it looks like (a password, a client secret, a Basic
// credential): it never uses the fast hash.
func FingerprintWeak(v string) string {
	return fingerprint(v, true)
}

func fingerprint(v string, weak bool) string {
	if v == "" || IsFingerprint(v) {
		return v
	}
	if k := currentKey.Load(); k != nil {
		return k.fingerprint(v)
	}
	if weak {
		return slowFingerprint(v)
	}
	return fastFingerprint(v)
}

func fastFingerprint(v string) string {
	sum := sha256.Sum256([]byte(v))
	return Prefix + hex.EncodeToString(sum[:6]) + ":len=" + strconv.Itoa(len(v))
}

// slowCache keeps the argon2id fingerprints of recent values, so the hot
// path pays the memory-hard cost once per distinct value.
var slowCache = newLRU(4096)

// slowSem bounds concurrent argon2id computations (each takes
// ArgonMemoryKiB of memory).
var slowSem = make(chan struct{}, 1)

func slowFingerprint(v string) string {
	key := sha256.Sum256([]byte(v))
	if fp, ok := slowCache.get(key); ok {
		return fp
	}
	var sum []byte
	if fuzzmode.Cheap() {
		// go test -fuzz only: same shape, no memory-hard cost.
		s := sha256.Sum256([]byte("fuzz\x00" + v))
		sum = s[:]
	} else {
		slowSem <- struct{}{}
		sum = argon2.IDKey([]byte(v), []byte(ArgonSalt), ArgonTime, ArgonMemoryKiB, ArgonThreads, 32)
		<-slowSem
	}
	fp := SlowPrefix + hex.EncodeToString(sum[:6]) + ":len=" + strconv.Itoa(len(v))
	slowCache.put(key, fp)
	return fp
}

// fingerprintKey is a key set by SetKey.
type fingerprintKey struct {
	mac []byte // the HMAC key, derived from the user's key
	id  string // 8 lower-case hex digits
}

func (k *fingerprintKey) fingerprint(v string) string {
	m := hmac.New(sha256.New, k.mac)
	m.Write([]byte(v))
	sum := m.Sum(nil)
	return Marker + keyedScheme + k.id + ":" + hex.EncodeToString(sum[:6]) + ":len=" + strconv.Itoa(len(v))
}

var currentKey atomic.Pointer[fingerprintKey]

// SetKey makes every later fingerprint keyed by key (HMAC-SHA256 with a key
// derived from it by Argon2id, so even a weak key costs a memory-hard guess);
// an empty key goes back to unkeyed fingerprints. Machines whose captures
// are compared must use the same key. It returns the key id that the
// fingerprints carry.
func SetKey(key []byte) string {
	if len(key) == 0 {
		currentKey.Store(nil)
		return ""
	}
	mac := argon2.IDKey(key, []byte(ArgonSalt+" key"), ArgonTime, ArgonMemoryKiB, ArgonThreads, 32)
	idSum := sha256.Sum256(append([]byte("oauthproxy fingerprint key id\x00"), mac...))
	k := &fingerprintKey{mac: mac, id: hex.EncodeToString(idSum[:4])}
	currentKey.Store(k)
	return k.id
}

// KeyID returns the id of the key set by SetKey, or "" if none is.
func KeyID() string {
	if k := currentKey.Load(); k != nil {
		return k.id
	}
	return ""
}

// IsFingerprint reports whether v is a fingerprint made by Fingerprint or
// by Param (the PKCE verifier form).
func IsFingerprint(v string) bool {
	if strings.HasPrefix(v, VerifierPrefix) {
		_, _, _, ok := RedactedVerifier(v)
		return ok
	}
	_, _, ok := parseFingerprint(v)
	return ok
}

// parseFingerprint splits "redacted:<scheme>:<12 hex>:len=N" into its
// scheme and its 12 hex digits.
func parseFingerprint(v string) (scheme, digits string, ok bool) {
	rest, found := strings.CutPrefix(v, Marker)
	if !found {
		return "", "", false
	}
	scheme, rest, found = strings.Cut(rest, ":")
	if !found || !validScheme(scheme) || len(rest) < 12 || !allBytes(rest[:12], isLowerHex) {
		return "", "", false
	}
	tail, found := lenSuffix(rest[12:])
	if !found || tail != "" {
		return "", "", false
	}
	return scheme, rest[:12], true
}

func validScheme(s string) bool {
	switch s {
	case "sha256", "argon2id":
		return true
	}
	id, ok := strings.CutPrefix(s, keyedScheme)
	return ok && len(id) == 8 && allBytes(id, isLowerHex)
}

// Scheme returns the scheme of a fingerprint ("sha256", "argon2id",
// "hmac-<key id>", "s256" for a redacted code_verifier), or "" if fp is not
// one.
func Scheme(fp string) string {
	if _, _, _, ok := RedactedVerifier(fp); ok {
		return "s256"
	}
	s, _, _ := parseFingerprint(fp)
	return s
}

// Short returns the scheme and the 12 hex digits of a fingerprint for
// display ("sha256:1a2b3c4d5e6f", "argon2id:...", "hmac-0a1b2c3d:..."), or
// the value unchanged if it is not a fingerprint.
func Short(fp string) string {
	if s256, _, _, ok := RedactedVerifier(fp); ok {
		return "s256:" + s256[:12]
	}
	s, d, ok := parseFingerprint(fp)
	if !ok {
		return fp
	}
	return s + ":" + d
}

// fingerprintLen returns the length a fingerprint records, or -1.
func fingerprintLen(fp string) int {
	_, n, ok := strings.Cut(fp, ":len=")
	if !ok {
		return -1
	}
	n, _, _ = strings.Cut(n, ":")
	l, err := strconv.Atoi(n)
	if err != nil {
		return -1
	}
	return l
}

// Same compares two values, each raw or a fingerprint, possibly from two
// captures made on different machines. comparable is false when nothing can
// be said: a marker of another tool hides a value (why is empty), or the two
// fingerprints were made with different keys or schemes (why says so).
func Same(a, b string) (same, comparable bool, why string) {
	if a == b {
		return true, true, ""
	}
	fa, fb := IsFingerprint(a), IsFingerprint(b)
	if (IsRedacted(a) && !fa) || (IsRedacted(b) && !fb) {
		return false, false, "" // the marker says nothing about the value
	}
	switch {
	case !fa && !fb:
		return false, true, ""
	case fa && fb:
		sa, sb := Scheme(a), Scheme(b)
		if sa == sb {
			return false, true, ""
		}
		if la, lb := fingerprintLen(a), fingerprintLen(b); la >= 0 && lb >= 0 && la != lb {
			return false, true, "" // different lengths: different values whatever the scheme
		}
		if strings.HasPrefix(sa, keyedScheme) || strings.HasPrefix(sb, keyedScheme) {
			return false, false, "different fingerprint keys (" + sa + " vs " + sb + "), secrets not comparable"
		}
		return false, false, "different fingerprint schemes (" + sa + " vs " + sb + "), secrets not comparable"
	case fb:
		a, b = b, a // a is the fingerprint, b the raw value
	}
	scheme := Scheme(a)
	var fp string
	switch {
	case scheme == "sha256":
		fp = fastFingerprint(b)
	case scheme == "argon2id":
		fp = slowFingerprint(b)
	case scheme == "s256":
		fp = Param("code_verifier", b)
	case strings.HasPrefix(scheme, keyedScheme):
		k := currentKey.Load()
		if k == nil || keyedScheme+k.id != scheme {
			if fingerprintLen(a) != len(b) {
				return false, true, ""
			}
			return false, false, "fingerprinted with key " + strings.TrimPrefix(scheme, keyedScheme) + ", which is not set here; secrets not comparable"
		}
		fp = k.fingerprint(b)
	}
	return fp == a, true, ""
}

// lru is a bounded map from a value's SHA-256 to its fingerprint, evicting
// the least recently used entry. Keys are hashes so raw secrets are not
// kept in memory longer than their exchange.
type lru struct {
	mu    sync.Mutex
	max   int
	order *list.List // of *lruEntry, most recent first
	m     map[[32]byte]*list.Element
}

type lruEntry struct {
	key [32]byte
	fp  string
}

func newLRU(max int) *lru {
	return &lru{max: max, order: list.New(), m: make(map[[32]byte]*list.Element)}
}

func (c *lru) get(k [32]byte) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok {
		return "", false
	}
	c.order.MoveToFront(e)
	return e.Value.(*lruEntry).fp, true
}

func (c *lru) put(k [32]byte, fp string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[k]; ok {
		c.order.MoveToFront(e)
		return
	}
	c.m[k] = c.order.PushFront(&lruEntry{key: k, fp: fp})
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.m, last.Value.(*lruEntry).key)
	}
}

func (c *lru) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
