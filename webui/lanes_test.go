package webui

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/oauthproxy/oauthproxy/flow"
)

// randomExchange is an exchange of one of a few logins (or none), with a
// random label, status, findings and diagnosis, started at a time that
// does not always grow (HAR imports are not sorted).
func randomExchange(rng *rand.Rand, i int) *flow.Exchange {
	labels := []flow.Label{"", "", flow.LabelAuthorize, flow.LabelHop, flow.LabelCallback, flow.LabelToken, flow.LabelDiscovery}
	x := xchg("GET", fmt.Sprintf("https://h%d.example.test/p/%d?client_id=c%d", rng.IntN(3), i, rng.IntN(2)), []int{200, 302, 400, 403}[rng.IntN(4)])
	x.Start = t0.Add(time.Duration(i)*time.Second - time.Duration(rng.IntN(5))*time.Second)
	if rng.IntN(3) > 0 {
		x.OAuth.Login = fmt.Sprintf("L%d", rng.IntN(12))
	}
	x.OAuth.Label = labels[rng.IntN(len(labels))]
	for k := rng.IntN(3); k > 0; k-- {
		sev := []flow.Severity{flow.SeverityError, flow.SeverityWarn, flow.SeverityInfo}[rng.IntN(3)]
		x.OAuth.Findings = append(x.OAuth.Findings, flow.Finding{ID: fmt.Sprintf("f%d", rng.IntN(4)), Severity: sev, Message: "m"})
	}
	if rng.IntN(5) == 0 {
		x.OAuth.Diagnosis = &flow.Diagnosis{Category: flow.CategoryGrant, Cause: "code-reused", Summary: "s"}
	}
	if rng.IntN(10) == 0 {
		x.ID = fmt.Sprintf("00000000-0000-4000-8000-%012d", seq-1) // a duplicated id
	}
	return x
}

// TestIndexMatchesScan: the lanes answer the login list, a login's rows
// and its exchanges exactly as a scan of the ring does, while the ring
// turns over many times.
func TestIndexMatchesScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	s := NewStore(256 << 10)
	ids := []string{"", OtherLane, "L0", "L3", "L11", "nosuch"}
	for i := 0; i < 6000; i++ {
		s.Add(randomExchange(rng, i))
		if i%97 != 0 {
			continue
		}
		for _, hide := range []bool{false, true} {
			got, total := s.Logins(Query{HideOther: hide}, 0, 0)
			s.mu.RLock()
			want := s.scanLogins(Query{HideOther: hide})
			s.mu.RUnlock()
			if total != len(want) || !reflect.DeepEqual(got, want) {
				t.Fatalf("after %d exchanges, logins (hide_other %v):\n got %d %+v\nwant %d %+v", i+1, hide, total, got, len(want), want)
			}
		}
		for _, id := range ids {
			for _, pg := range [][2]int{{0, 100}, {7, 5}, {0, MaxLoginRows}, {10000, 10}} {
				got := s.Rows(Query{Login: id}, pg[0], pg[1])
				s.mu.RLock()
				want := s.scanRows(Query{Login: id}, pg[0], pg[1])
				var wantX []*flow.Exchange
				first, end := s.live()
				for n := first; n < end && id != "" && len(wantX) < 20; n++ {
					if r := s.rowAt(n); (Query{Login: id}).match(&r) {
						wantX = append(wantX, s.exchangeAt(n))
					}
				}
				s.mu.RUnlock()
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("after %d exchanges, rows of %q %v: got %d of %d, want %d of %d", i+1, id, pg, len(got.Rows), got.Total, len(want.Rows), want.Total)
				}
				if id == "" {
					continue
				}
				if gotX := s.exchanges(Query{Login: id}, 20); !reflect.DeepEqual(gotX, wantX) {
					t.Fatalf("after %d exchanges, exchanges of %q: got %d, want %d", i+1, id, len(gotX), len(wantX))
				}
			}
		}
	}
	if st := s.Stats(); st.Evicted < 3*int64(st.Exchanges) {
		t.Fatalf("the ring turned over only %d times: %+v", st.Evicted/int64(st.Exchanges), st)
	}
}
