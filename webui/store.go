package webui

import (
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

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

// entry is one exchange held by the ring: the exchange as the sink got it
// (needed for re-send and HAR export, never served as is), frozen (see
// freeze), its redacted row, and the bytes it is charged for.
type entry struct {
	x       flow.Exchange // without URL, header and response: those are below
	url     url.URL
	hasURL  bool
	reqH    string // the request's header, packed
	resp    flow.Response
	hasResp bool
	respH   string // the response's header and trailer, packed
	trailer string
	row     Row
	size    int64
	n       int64 // its position in the ring: the count of exchanges added before it
}

// Store is the byte-bounded ring of recent exchanges. It is safe for
// concurrent use.
type Store struct {
	max int64

	mu      sync.RWMutex
	ring    []*entry // oldest first; ring[head:] are live
	head    int
	byID    map[string]*entry
	lanes   map[string]*lane // by login id, and OtherLane
	bytes   int64
	seen    int64 // exchanges ever added
	evicted int64
}

// NewStore returns a ring that holds at most maxBytes (DefaultMaxBytes
// when maxBytes <= 0) of exchanges, evicting the oldest first.
func NewStore(maxBytes int64) *Store {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	return &Store{max: maxBytes, byID: map[string]*entry{}, lanes: map[string]*lane{}}
}

// Add stores x and returns its row. An exchange larger than the whole
// bound is kept without its bodies, so it still shows in the list.
func (s *Store) Add(x *flow.Exchange) Row {
	e := &entry{row: rowOf(x)}
	e.freeze(x)
	e.size = sizeOf(e)
	if e.size > s.max {
		e.dropBodies()
		e.size = sizeOf(e)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e.n = s.seen
	s.seen++
	// The same id twice (a HAR with duplicated ids) keeps both rows; the
	// lookup finds the newest.
	s.ring = append(s.ring, e)
	s.byID[x.ID] = e
	id := laneOf(&e.row)
	l := s.lanes[id]
	if l == nil {
		l = &lane{sum: LoginSummary{ID: id}}
		s.lanes[id] = l
		e.size += laneSize
	}
	l.push(e)
	s.bytes += e.size
	for s.bytes > s.max && s.head < len(s.ring)-1 {
		old := s.ring[s.head]
		s.ring[s.head] = nil
		s.head++
		s.bytes -= old.size
		s.evicted++
		if s.byID[old.x.ID] == old {
			delete(s.byID, old.x.ID)
		}
		id := laneOf(&old.row)
		if s.lanes[id].pop(old) {
			delete(s.lanes, id)
		}
	}
	if s.head > 1024 && s.head*2 > len(s.ring) {
		// Compact: the dead prefix is more than half the slice.
		s.ring = append([]*entry(nil), s.ring[s.head:]...)
		s.head = 0
	}
	return e.row
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
}

// Stats returns the ring's counters.
func (s *Store) Stats() Stats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return Stats{Exchanges: len(s.ring) - s.head, Bytes: s.bytes, MaxBytes: s.max, Seen: s.seen, Evicted: s.evicted}
}

// get returns the exchange with this id and its row.
func (s *Store) get(id string) (*flow.Exchange, Row, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.byID[id]
	if !ok {
		return nil, Row{}, false
	}
	return e.exchange(), e.row, true
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
		ents := s.ring[s.head:]
		if q.Login != "" {
			ents = nil
			if l := s.lanes[q.Login]; l != nil {
				ents = l.live()
			}
		}
		p.Total = len(ents)
		for i := len(ents) - 1 - offset; i >= 0 && len(p.Rows) < limit; i-- {
			p.Rows = append(p.Rows, ents[i].row)
		}
		return p
	}
	return s.scanRows(q, offset, limit)
}

// scanRows is Rows by a scan of the whole ring (the caller holds the lock).
func (s *Store) scanRows(q Query, offset, limit int) Page {
	p := Page{Offset: offset, Limit: limit, Rows: []Row{}}
	for i := len(s.ring) - 1; i >= s.head; i-- {
		r := &s.ring[i].row
		if !q.match(r) {
			continue
		}
		if p.Total >= offset && len(p.Rows) < limit {
			p.Rows = append(p.Rows, *r)
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
		for i, e := range ents {
			out[i] = e.exchange()
		}
		return out
	}
	for i := s.head; i < len(s.ring); i++ {
		if q.match(&s.ring[i].row) {
			out = append(out, s.ring[i].exchange())
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
	for i := s.head; i < len(s.ring); i++ {
		r := &s.ring[i].row
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

// wasteful reports whether b's array is more than 1 KiB and 1/8 larger
// than what it holds.
func wasteful(b []byte) bool {
	waste := allocSize(cap(b)) - allocSize(len(b))
	return waste > 1024 && waste > int64(len(b)/8)
}
