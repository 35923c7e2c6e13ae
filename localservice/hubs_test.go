package localservice

import (
	"fmt"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// addUser runs the REST operation that adds user u to group g of hub, with
// query (e.g. "ttl=10"), and fails on an error answer.
func addUser(tb testing.TB, s *Service, hub, u, g, query string) {
	tb.Helper()
	c := &restCall{r: httptest.NewRequest("PUT", "/?"+query, nil), hub: hub, params: map[string]string{"user": u, "group": g}}
	if _, e := opAddUserToGroup(s, c); e != nil {
		tb.Fatalf("add %s to %s: %v", u, g, e)
	}
}

// TestUserGroupExpiry checks the expiry bookkeeping of user-group
// memberships: a new ttl replaces the old one, no ttl removes it, and an
// operation drops what has expired, and only that.
func TestUserGroupExpiry(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Unix(1e9, 0).UnixNano())
	s := New(Options{Now: func() time.Time { return time.Unix(0, now.Load()) }})
	defer s.Close()
	advance := func(d time.Duration) { now.Add(int64(d)) }

	addUser(t, s, "h", "a", "g", "ttl=10")
	addUser(t, s, "h", "b", "g", "ttl=20")
	addUser(t, s, "h", "c", "g", "")
	addUser(t, s, "h", "a", "g", "ttl=30") // later expiry
	addUser(t, s, "h", "b", "g", "")       // no expiry any more
	addUser(t, s, "h", "d", "g2", "ttl=5")
	h := s.hubs["h"]
	members := func() string {
		var out string
		for _, u := range []string{"a", "b", "c", "d"} {
			for _, g := range []string{"g", "g2"} {
				if h.groupUsers[g][u] != nil {
					out += u + g + " "
				}
			}
		}
		return fmt.Sprintf("%s(%d expiring)", out, len(h.expiries))
	}
	steps := []struct {
		name  string
		do    func()
		want  string
		inHub bool
	}{
		{"after the adds", func() {}, "ag bg cg dg2 (2 expiring)", true},
		{"d expired, an add drops it", func() { advance(6 * time.Second); addUser(t, s, "h", "e", "g3", "ttl=0") }, "ag bg cg (1 expiring)", true},
		{"a kept its later expiry", func() { advance(20 * time.Second); addUser(t, s, "h", "e", "g3", "ttl=0") }, "ag bg cg (1 expiring)", true},
		{"a expired, a removal drops it", func() {
			advance(5 * time.Second)
			opRemoveUserFromGroup(s, &restCall{r: httptest.NewRequest("DELETE", "/", nil), hub: "h", params: map[string]string{"user": "c", "group": "g"}})
		}, "bg (0 expiring)", true},
		{"the last one removed, the hub goes", func() {
			opRemoveUserFromAllGroups(s, &restCall{r: httptest.NewRequest("DELETE", "/", nil), hub: "h", params: map[string]string{"user": "b"}})
		}, "(0 expiring)", false},
	}
	for _, st := range steps {
		st.do()
		if got := members(); got != st.want {
			t.Fatalf("%s: got %s, want %s", st.name, got, st.want)
		}
		if _, ok := s.hubs["h"]; ok != st.inHub {
			t.Fatalf("%s: hub kept: %v, want %v", st.name, ok, st.inHub)
		}
		for i, m := range h.expiries {
			if m.index != i || (i > 0 && m.expiry.Before(h.expiries[(i-1)/2].expiry)) {
				t.Fatalf("%s: the expiry heap is broken at %d", st.name, i)
			}
		}
	}
}

// TestUserGroupAddCostFlat checks that adding a user to a group costs about
// the same in a hub of a few thousand and of 100,000 user-group
// memberships: an add touches what it names, it does not scan the hub. The
// hub is filled in chunks of 2,000 adds, each measured in the CPU time of
// the thread that runs them (other processes' load does not count). The
// bound is loose (10×, the best of three chunks); a scan
// passes it by 40,000 memberships, and three slow chunks in a row end the
// test early.
func TestUserGroupAddCostFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("fills a hub with 100,000 memberships")
	}
	const chunk, size = 2000, 100000
	s := New(Options{})
	defer s.Close()
	n := 0
	addChunk := func() time.Duration {
		d := measureCPU(func() {
			for k := n; k < n+chunk; k++ {
				addUser(t, s, "h", fmt.Sprint("u", k), fmt.Sprint("g", k%100), "ttl=3600")
			}
		})
		n += chunk
		return d
	}
	best := func() time.Duration { return min(addChunk(), addChunk(), addChunk()) }
	addChunk() // warm-up
	ref, refAt := best(), n
	for slow := 0; n < size; {
		if d := addChunk(); d > 10*ref {
			if slow++; slow == 3 {
				t.Fatalf("%d adds took %v at %d memberships, want at most 10× the %v at %d", chunk, d, n, ref, refAt)
			}
		} else {
			slow = 0
		}
	}
	d := best()
	t.Logf("%d adds: %v at %d memberships, %v at %d", chunk, ref, refAt, d, n)
	if d > 10*ref {
		t.Errorf("%d adds took %v at %d memberships, want at most 10× the %v at %d", chunk, d, n, ref, refAt)
	}
}
