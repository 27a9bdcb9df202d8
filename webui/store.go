package webui

import (
	"hash/maphash"
	"net/url"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/oauthproxy/oauthproxy/flow"
	"github.com/oauthproxy/oauthproxy/redact"
)

// DefaultMaxBytes bounds the ring of a live session when Options.MaxBytes is 0.
const DefaultMaxBytes = 16 << 20

// OtherLane is the group id of exchanges that belong to no login.
const OtherLane = "other"

// Badge is the most severe finding or diagnosis of an exchange or a login.
type Badge struct {
	// Level is error, warn or info.
	Level string `json:"level"`
	// ID is the finding id, or the diagnosis as category/cause.
	ID string `json:"id"`
}

// Brief names one finding of a row.
type Brief struct {
	ID       string `json:"id"`
	Severity string `json:"severity"`
}

// Row is the redacted one-line summary of an exchange: what the list, the
// search and the event stream carry.
type Row struct {
	ID         string    `json:"id"`
	Seq        int       `json:"seq"`
	Time       time.Time `json:"time"`
	Method     string    `json:"method"`
	URL        string    `json:"url"`
	Host       string    `json:"host"`
	Path       string    `json:"path"`
	Status     int       `json:"status"`
	Error      string    `json:"error,omitempty"`
	DurationMS float64   `json:"duration_ms"`
	OAuth      string    `json:"oauth,omitempty"`
	GrantType  string    `json:"grant_type,omitempty"`
	Issuer     string    `json:"issuer,omitempty"`
	Login      string    `json:"login,omitempty"`
	Failed     bool      `json:"failed,omitempty"`
	Badge      *Badge    `json:"badge,omitempty"`
	Findings   []Brief   `json:"findings,omitempty"`
	// Cause is the diagnosis as category/cause, "" when there is none.
	Cause string `json:"cause,omitempty"`
}

// rowOf builds the redacted row of x. Its strings share memory where they
// can: Host and Path are slices of URL, the badge names the row's cause.
func rowOf(x *flow.Exchange) Row {
	r := Row{
		ID:         x.ID,
		Seq:        x.Seq,
		Time:       x.Start,
		Method:     x.Request.Method,
		Error:      redact.Text(x.Error),
		DurationMS: float64(x.Timings.Total.Microseconds()) / 1000,
		OAuth:      string(x.OAuth.Label),
		GrantType:  x.OAuth.GrantType,
		Issuer:     x.OAuth.Issuer,
		Login:      x.OAuth.Login,
		Failed:     x.Failed(),
	}
	if u := x.Request.URL; u != nil {
		ru := redact.URL(u)
		r.URL = ru.String()
		r.Host = within(r.URL, ru.Host)
		path := ru.EscapedPath()
		if ru.RawQuery != "" {
			path += "?" + ru.RawQuery
		}
		r.Path = within(r.URL, path)
	}
	if x.Response != nil {
		r.Status = x.Response.Status
	}
	if len(x.OAuth.Findings) > 0 {
		r.Findings = make([]Brief, len(x.OAuth.Findings))
		for i, f := range x.OAuth.Findings {
			r.Findings[i] = Brief{ID: f.ID, Severity: string(f.Severity)}
		}
	}
	if d := x.OAuth.Diagnosis; d != nil {
		r.Cause = string(d.Category) + "/" + d.Cause
	}
	r.Badge = badgeOf(x, r.Cause)
	return r
}

// within returns sub as a slice of s when s contains it (no copy kept),
// else sub.
func within(s, sub string) string {
	if i := strings.Index(s, sub); i >= 0 {
		return s[i : i+len(sub)]
	}
	return sub
}

// badgeOf picks the most severe finding, or the diagnosis when no finding
// is as severe. A diagnosis of a failed exchange counts as an error, one in
// the info category as info; cause is the diagnosis as category/cause.
func badgeOf(x *flow.Exchange, cause string) *Badge {
	var b *Badge
	rank := 4
	for _, f := range x.OAuth.Findings {
		if r := f.Severity.Rank(); r < rank {
			rank, b = r, &Badge{Level: string(f.Severity), ID: f.ID}
		}
	}
	if d := x.OAuth.Diagnosis; d != nil {
		lvl := flow.SeverityError
		if d.Category == flow.CategoryInfo {
			lvl = flow.SeverityInfo
		}
		if lvl.Rank() < rank {
			b = &Badge{Level: string(lvl), ID: cause}
		}
	}
	return b
}

// worse returns the more severe of two badges (a when equal).
func worse(a, b *Badge) *Badge {
	if a == nil {
		return b
	}
	if b == nil {
		return a
	}
	if flow.Severity(b.Level).Rank() < flow.Severity(a.Level).Rank() {
		return b
	}
	return a
}

// slot locates one record in the arena. It holds no pointers: the ring
// of slots is one object the collector never scans.
type slot struct {
	chunk    int64  // the seq of the chunk holding the record
	off, len uint32 // the record's bytes in the chunk
	id       uint64 // the hash of the exchange's id (its key in byID)
}

// Store is the byte-bounded ring of recent exchanges. It is safe for
// concurrent use.
//
// Each exchange is one record (row and exchange, see record.go) in the
// arena's chunks (arena.go); the heap keeps only the index: a slot per
// record, a map from id to position and the lanes. The charge of the
// ring is the arena's mapped bytes and indexSize per record; when a new
// record does not fit, the oldest chunk goes, with all its records (at
// most a sixteenth of the ring at a time).
type Store struct {
	max       int64
	chunkSize int

	mu      sync.RWMutex
	a       *arena // the records' memory
	cseq    int64  // chunks ever made
	slots   []slot // oldest first; slots[head:] are live
	head    int
	base    int64            // the position (count of exchanges added before it) of slots[0]
	byID    map[uint64]int64 // hash of the id -> position of its newest record
	seed    maphash.Seed
	lanes   map[string]*lane // by login id, and OtherLane
	bytes   int64
	seen    int64 // exchanges ever added
	evicted int64
	scratch []byte // the encoder's buffer (reused under mu's write lock)
}

// indexSize is what the heap spends per record: its slot in the ring
// (a slice that grows by doubling), its position in its lane and its
// entry in the id map. TestRingHeapWithinBound checks it.
const indexSize = 2*int64(unsafe.Sizeof(slot{})) + 2*8 + 48

// laneSize is what a lane costs besides its records: the struct, its map
// slot and its summary's steps; charged once per lane.
var laneSize = int64(unsafe.Sizeof(lane{})) + 64 + 16*int64(unsafe.Sizeof(""))

// NewStore returns a ring that holds at most maxBytes (DefaultMaxBytes
// when maxBytes <= 0) of exchanges, evicting the oldest first.
func NewStore(maxBytes int64) *Store {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	cs := int64(1 << 20)
	if maxBytes/16 < cs {
		cs = maxBytes / 16
	}
	s := &Store{max: maxBytes, chunkSize: roundPage(int(max(cs, 1))), a: &arena{}, byID: map[uint64]int64{}, lanes: map[string]*lane{}, seed: maphash.MakeSeed()}
	// Mapped memory is not the collector's: give it back when the store
	// is (a view closed, a test's store).
	runtime.AddCleanup(s, (*arena).releaseAll, s.a)
	return s
}

// Add stores x and returns its row. An exchange larger than the whole
// bound is kept without its bodies, so it still shows in the list.
func (s *Store) Add(x *flow.Exchange) Row {
	row := rowOf(x)
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := appendRecord(s.scratch[:0], &row, x, false)
	if int64(len(rec))+indexSize > s.max {
		rec = appendRecord(rec[:0], &row, x, true)
	}
	if cap(rec) <= 64<<10 {
		s.scratch = rec
	} // a large record's buffer is not kept
	c := s.place(len(rec))
	off := c.used
	c.used += copy(c.mem[off:], rec)
	n := s.seen
	s.seen++
	h := maphash.String(s.seed, row.ID)
	if len(s.slots) == 0 {
		s.base = n
	}
	s.slots = append(s.slots, slot{chunk: c.seq, off: uint32(off), len: uint32(len(rec)), id: h})
	// The same id twice (a HAR with duplicated ids) keeps both rows; the
	// lookup finds the newest.
	s.byID[h] = n
	id := laneOf(&row)
	l := s.lanes[id]
	if l == nil {
		l = &lane{sum: LoginSummary{ID: id}}
		s.lanes[id] = l
		s.bytes += laneSize
	}
	l.push(n, &row)
	s.bytes += indexSize
	return row
}

// place makes room for a record of n bytes and returns the chunk to copy
// it into: the newest chunk if it has room, else a new one, after the
// oldest chunks went to keep the ring within its bound. The caller holds
// the write lock.
func (s *Store) place(n int) *chunk {
	size := s.chunkSize
	if n > size {
		size = roundPage(n) // a record of its own
	}
	for {
		var newest *chunk
		if s.a.chead < len(s.a.chunks) {
			newest = s.a.chunks[len(s.a.chunks)-1]
		}
		fits := newest != nil && len(newest.mem)-newest.used >= n
		reuse := s.a.spare != nil && len(s.a.spare.mem) == size
		need := indexSize
		if !fits && !reuse {
			need += int64(size)
		}
		if s.bytes+need <= s.max || newest == nil || (fits && s.a.chead == len(s.a.chunks)-1) {
			// It fits the bound, or nothing is left to evict but the
			// chunk it goes into: an exchange larger than the bound is
			// still kept, alone.
			if fits {
				return newest
			}
			break
		}
		s.evictChunk()
	}
	var c *chunk
	if sp := s.a.spare; sp != nil && len(sp.mem) == size {
		c, s.a.spare = sp, nil // already counted in bytes
	} else {
		if sp != nil && s.a.chead == len(s.a.chunks) && s.bytes+int64(size)+indexSize > s.max {
			s.dropSpare() // room for a record larger than the bound
		}
		c = newChunk(size)
		s.bytes += int64(size)
	}
	c.used, c.seq = 0, s.cseq
	s.cseq++
	s.a.chunks = append(s.a.chunks, c)
	if s.a.chead > 64 && s.a.chead*2 > len(s.a.chunks) {
		s.a.chunks = append([]*chunk(nil), s.a.chunks[s.a.chead:]...)
		s.a.chead = 0
	}
	return c
}

// dropSpare releases the spare chunk.
func (s *Store) dropSpare() {
	s.bytes -= int64(len(s.a.spare.mem))
	s.a.spare.release()
	s.a.spare = nil
}

// evictChunk drops the oldest chunk and every record in it. A chunk of
// the usual size is kept as the spare (if there is none), the rest are
// released. The caller holds the write lock.
func (s *Store) evictChunk() {
	c := s.a.chunks[s.a.chead]
	s.a.chunks[s.a.chead] = nil
	s.a.chead++
	for s.head < len(s.slots) && s.slots[s.head].chunk == c.seq {
		s.evictSlot(c)
	}
	if s.head > 1024 && s.head*2 > len(s.slots) {
		// Compact: the dead prefix is more than half the slice.
		s.base += int64(s.head)
		s.slots = append([]slot(nil), s.slots[s.head:]...)
		s.head = 0
	}
	if s.head == len(s.slots) {
		s.slots, s.head, s.base = s.slots[:0], 0, s.seen
	}
	if s.a.spare == nil && len(c.mem) == s.chunkSize {
		s.a.spare = c // still counted in bytes
		return
	}
	s.bytes -= int64(len(c.mem))
	c.release()
}

// evictSlot drops the oldest record, held in c.
func (s *Store) evictSlot(c *chunk) {
	sl := s.slots[s.head]
	n := s.base + int64(s.head)
	s.head++
	s.evicted++
	s.bytes -= indexSize
	if s.byID[sl.id] == n {
		delete(s.byID, sl.id)
	}
	rec := c.mem[sl.off : sl.off+sl.len]
	id := OtherLane
	if login := loginOf(rec); len(login) > 0 {
		id = string(login)
	}
	l := s.lanes[id]
	if l == nil {
		return // cannot happen: every record was pushed to its lane
	}
	if l.pop(rec) {
		delete(s.lanes, id)
		s.bytes -= laneSize
	}
}

// record returns the bytes of the record at position n, which must be
// live. The caller holds the lock; the bytes are the arena's, valid
// until it is released.
func (s *Store) record(n int64) []byte {
	sl := s.slots[n-s.base]
	c := s.a.chunks[s.a.chead+int(sl.chunk-s.a.chunks[s.a.chead].seq)]
	return c.mem[sl.off : sl.off+sl.len]
}

// rowAt decodes the row at position n (the caller holds the lock).
func (s *Store) rowAt(n int64) Row { return recordRow(s.record(n)) }

// exchangeAt decodes the exchange at position n (the caller holds the lock).
func (s *Store) exchangeAt(n int64) *flow.Exchange { return recordExchange(s.record(n)) }

// live is the range of positions held: [first, end).
func (s *Store) live() (first, end int64) {
	return s.base + int64(s.head), s.base + int64(len(s.slots))
}

// Stats describe the ring.
type Stats struct {
	// Exchanges held now, and the bytes they are charged for.
	Exchanges int   `json:"exchanges"`
	Bytes     int64 `json:"bytes"`
	// MaxBytes is the bound.
	MaxBytes int64 `json:"max_bytes"`
	// Seen counts every exchange added; Evicted those dropped for room.
	Seen    int64 `json:"seen"`
	Evicted int64 `json:"evicted"`
	// Mapped is the part of Bytes held outside the Go heap: the memory
	// the ring's records take (with one emptied chunk kept for reuse).
	Mapped int64 `json:"mapped"`
}

// Stats returns the ring's counters.
func (s *Store) Stats() Stats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return Stats{Exchanges: len(s.slots) - s.head, Bytes: s.bytes, MaxBytes: s.max, Seen: s.seen, Evicted: s.evicted, Mapped: s.a.size()}
}

// get returns the exchange with this id and its row.
func (s *Store) get(id string) (*flow.Exchange, Row, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n, ok := s.byID[maphash.String(s.seed, id)]
	if !ok {
		return nil, Row{}, false
	}
	row := s.rowAt(n)
	if row.ID != id {
		return nil, Row{}, false // another id of the same hash (2^-64)
	}
	return s.exchangeAt(n), row, true
}

// Query selects rows. The zero Query selects everything.
type Query struct {
	// Text matches (case-insensitively) the method, URL, status, OAuth
	// label, grant type, login, finding ids and diagnosis of a row.
	Text string
	// Login keeps the rows of one login; OtherLane keeps rows of none.
	Login string
	// Failed keeps failed exchanges and those with an error finding or a diagnosis.
	Failed bool
	// OAuth keeps OAuth exchanges.
	OAuth bool
	// HideOther drops rows that belong to no login.
	HideOther bool
}

func (q Query) match(r *Row) bool {
	switch {
	case q.Login == OtherLane && r.Login != "":
		return false
	case q.Login != "" && q.Login != OtherLane && r.Login != q.Login:
		return false
	case q.HideOther && r.Login == "":
		return false
	case q.OAuth && r.OAuth == "":
		return false
	case q.Failed && !r.Failed && (r.Badge == nil || r.Badge.Level != string(flow.SeverityError)):
		return false
	}
	if q.Text == "" {
		return true
	}
	return matchText(r, strings.ToLower(q.Text))
}

func matchText(r *Row, t string) bool {
	for _, s := range []string{r.Method, r.URL, strconv.Itoa(r.Status), r.OAuth, r.GrantType, r.Login, r.Cause, r.Error} {
		if strings.Contains(strings.ToLower(s), t) {
			return true
		}
	}
	for _, f := range r.Findings {
		if strings.Contains(f.ID, t) {
			return true
		}
	}
	return false
}

// Page is one page of rows, newest first.
type Page struct {
	Rows []Row `json:"rows"`
	// Total counts the matching rows in the ring; Offset is where Rows start.
	Total  int `json:"total"`
	Offset int `json:"offset"`
	Limit  int `json:"limit"`
}

// Rows returns the matching rows from offset (0 is the newest), at most limit.
func (s *Store) Rows(q Query, offset, limit int) Page {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if q.indexed() {
		// One login, or everything: a page costs its own size.
		p := Page{Offset: offset, Limit: limit, Rows: []Row{}}
		first, end := s.live()
		if q.Login != "" {
			var ents []int64
			if l := s.lanes[q.Login]; l != nil {
				ents = l.live()
			}
			p.Total = len(ents)
			for i := len(ents) - 1 - offset; i >= 0 && len(p.Rows) < limit; i-- {
				p.Rows = append(p.Rows, s.rowAt(ents[i]))
			}
			return p
		}
		p.Total = int(end - first)
		for n := end - 1 - int64(offset); n >= first && len(p.Rows) < limit; n-- {
			p.Rows = append(p.Rows, s.rowAt(n))
		}
		return p
	}
	return s.scanRows(q, offset, limit)
}

// scanRows is Rows by a scan of the whole ring (the caller holds the lock).
func (s *Store) scanRows(q Query, offset, limit int) Page {
	p := Page{Offset: offset, Limit: limit, Rows: []Row{}}
	first, end := s.live()
	for n := end - 1; n >= first; n-- {
		r := s.rowAt(n)
		if !q.match(&r) {
			continue
		}
		if p.Total >= offset && len(p.Rows) < limit {
			p.Rows = append(p.Rows, r)
		}
		p.Total++
	}
	return p
}

// exchanges returns the exchanges matching q, oldest first, at most limit
// (no limit when limit <= 0).
func (s *Store) exchanges(q Query, limit int) []*flow.Exchange {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []*flow.Exchange
	if q.indexed() && q.Login != "" {
		l := s.lanes[q.Login]
		if l == nil {
			return nil
		}
		ents := l.live()
		if limit > 0 && len(ents) > limit {
			ents = ents[:limit]
		}
		out = make([]*flow.Exchange, len(ents))
		for i, n := range ents {
			out[i] = s.exchangeAt(n)
		}
		return out
	}
	first, end := s.live()
	for n := first; n < end; n++ {
		if r := s.rowAt(n); q.match(&r) {
			out = append(out, s.exchangeAt(n))
			if limit > 0 && len(out) == limit {
				break
			}
		}
	}
	return out
}

// LoginSummary is one entry of the login list.
type LoginSummary struct {
	// ID is the login id, or OtherLane.
	ID    string    `json:"id"`
	Count int       `json:"count"`
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
	// Title names the login: the authorization server and client.
	Title  string `json:"title"`
	Failed int    `json:"failed"`
	Badge  *Badge `json:"badge,omitempty"`
	// Steps lists the OAuth labels seen, in order, once each.
	Steps []string `json:"steps,omitempty"`
}

// Logins groups the rows matching q by login, most recent login first; the
// OtherLane group (if any) comes last. q.Login is ignored.
func (s *Store) Logins(q Query, offset, limit int) ([]LoginSummary, int) {
	var out []LoginSummary
	if q.Text == "" && !q.Failed && !q.OAuth {
		s.mu.Lock() // a stale summary is rebuilt
		out = s.loginsIndexed(q.HideOther)
		s.mu.Unlock()
	} else {
		s.mu.RLock()
		out = s.scanLogins(q)
		s.mu.RUnlock()
	}
	total := len(out)
	if offset > len(out) {
		offset = len(out)
	}
	out = out[offset:]
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, total
}

// scanLogins is Logins by a scan of the whole ring (the caller holds the lock).
func (s *Store) scanLogins(q Query) []LoginSummary {
	q.Login = ""
	byID := map[string]*LoginSummary{}
	var order []string
	first, end := s.live()
	for n := first; n < end; n++ {
		row := s.rowAt(n)
		r := &row
		if !q.match(r) {
			continue
		}
		id := laneOf(r)
		l := byID[id]
		if l == nil {
			l = &LoginSummary{ID: id}
			byID[id] = l
			order = append(order, id)
		}
		l.add(r)
	}
	out := make([]LoginSummary, 0, len(order))
	var other *LoginSummary
	for _, id := range order {
		l := byID[id]
		l.finish()
		if id == OtherLane {
			other = l
			continue
		}
		out = append(out, *l)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Last.After(out[j].Last) })
	if other != nil {
		out = append(out, *other)
	}
	return out
}

// titleOf names a login by its authorize request: host and client_id.
func titleOf(r *Row) string {
	u, err := url.Parse(r.URL)
	if err != nil {
		return r.Host
	}
	t := u.Host
	if c := u.Query().Get("client_id"); c != "" {
		t += " · " + c
	}
	return t
}
