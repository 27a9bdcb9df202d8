package webui

import (
	"sort"
	"strings"

	"github.com/oauthproxy/oauthproxy/flow"
)

// A lane is the ring's index of one login (or of the other lane): its
// entries in ring order and its summary, kept up to date as entries come
// and go. The page's first requests (the login list, the selected login's
// diagram and rows) then cost the size of a page, not of the ring
// (issue 12: first paint < 1 s with 10,000 exchanges). Filtered queries
// still scan the ring.
type lane struct {
	ents []int64 // positions in the ring, oldest first; ents[head:] are live
	head int
	sum  LoginSummary
	// dirty is set when an eviction took what the summary's badge, steps,
	// title or last time came from; the summary is then rebuilt on demand.
	dirty bool
}

// laneOf is the lane of a row: its login, or OtherLane.
func laneOf(r *Row) string {
	if r.Login == "" {
		return OtherLane
	}
	return r.Login
}

func (l *lane) live() []int64 { return l.ents[l.head:] }

// add counts r into a summary, as the rows come in ring order. What it
// keeps of r is copied: a decoded row's strings share one allocation
// with the whole row, which a lane's summary must not keep alive.
func (l *LoginSummary) add(r *Row) {
	if l.Count == 0 {
		l.First = r.Time
	}
	l.Count++
	if r.Time.After(l.Last) {
		l.Last = r.Time
	}
	if r.Failed {
		l.Failed++
	}
	if b := worse(l.Badge, r.Badge); b != l.Badge {
		l.Badge = &Badge{Level: strings.Clone(b.Level), ID: strings.Clone(b.ID)}
	}
	// "hop" (login pages, labelled by login tracing) would drown the steps.
	if r.OAuth != "" && r.OAuth != "hop" && (len(l.Steps) == 0 || l.Steps[len(l.Steps)-1] != r.OAuth) && len(l.Steps) < 16 {
		l.Steps = append(l.Steps, strings.Clone(r.OAuth))
	}
	if l.Title == "" && r.OAuth == string(flow.LabelAuthorize) {
		l.Title = strings.Clone(titleOf(r))
	}
}

// finish names a summary once all its rows are counted.
func (l *LoginSummary) finish() {
	switch {
	case l.ID == OtherLane:
		l.Title = "other traffic (no login)"
	case l.Title == "":
		l.Title = l.ID
	}
}

// push appends the record at position n, of row r, to the lane.
func (l *lane) push(n int64, r *Row) {
	l.ents = append(l.ents, n)
	if !l.dirty {
		l.sum.add(r)
	}
}

// pop drops the lane's oldest record, rec, and reports whether the lane
// is now empty. The summary is kept up to date when it can be without
// reading the other records; else it is marked dirty. (Its First time is
// read from the oldest live record when the summary is asked for.)
func (l *lane) pop(rec []byte) bool {
	l.head++
	if l.head == len(l.ents) {
		return true
	}
	if l.head > 64 && l.head*2 > len(l.ents) {
		l.ents = append([]int64(nil), l.ents[l.head:]...)
		l.head = 0
	}
	if l.dirty {
		return false
	}
	r := recordRow(rec)
	l.sum.Count--
	if r.Failed {
		l.sum.Failed--
	}
	if r.OAuth != "" || (r.Badge != nil && l.sum.Badge != nil && *r.Badge == *l.sum.Badge) || !r.Time.Before(l.sum.Last) {
		l.dirty = true
	}
	return false
}

// summary returns the lane's summary, rebuilt first if an eviction made
// it stale. The caller holds s's write lock.
func (l *lane) summary(s *Store) LoginSummary {
	if l.dirty {
		l.sum = LoginSummary{ID: l.sum.ID}
		for _, n := range l.live() {
			r := s.rowAt(n)
			l.sum.add(&r)
		}
		l.dirty = false
	} else {
		l.sum.First = s.rowAt(l.ents[l.head]).Time
	}
	sum := l.sum
	sum.Steps = append([]string(nil), sum.Steps...)
	sum.finish()
	return sum
}

// indexed reports whether q can be answered from the lanes: no filter but
// the login.
func (q Query) indexed() bool { return q.Text == "" && !q.Failed && !q.OAuth && !q.HideOther }

// loginsIndexed is Logins for a query with no filter but HideOther: the
// lanes' summaries, in the order of the scan (most recent first, ties in
// the order the logins first appear in the ring; the other lane last).
// The caller holds the write lock (summaries may be rebuilt).
func (s *Store) loginsIndexed(hideOther bool) []LoginSummary {
	type item struct {
		sum   LoginSummary
		first int64 // ring position of its oldest live entry
	}
	items := make([]item, 0, len(s.lanes))
	var other *LoginSummary
	for id, l := range s.lanes {
		if id == OtherLane {
			if !hideOther {
				o := l.summary(s)
				other = &o
			}
			continue
		}
		items = append(items, item{l.summary(s), l.live()[0]})
	}
	sort.Slice(items, func(i, j int) bool {
		a, b := &items[i], &items[j]
		if !a.sum.Last.Equal(b.sum.Last) {
			return a.sum.Last.After(b.sum.Last)
		}
		return a.first < b.first
	})
	out := make([]LoginSummary, 0, len(items)+1)
	for i := range items {
		out = append(out, items[i].sum)
	}
	if other != nil {
		out = append(out, *other)
	}
	return out
}
