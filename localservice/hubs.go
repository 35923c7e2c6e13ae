package localservice

import (
	"container/heap"
	"time"
	"unicode/utf8"

	"github.com/funcsignalr/funcsignalr/internal/hubname"
)

// Users, groups and connections of each hub. All of it is guarded by
// Service.mu: fan-out holds the read lock and only enqueues (never blocks),
// membership changes hold the write lock. Every membership change costs the
// same whatever the size of the hub: it touches the maps of the user, group
// or connection it names, and expired user-group memberships are dropped
// from the front of an expiry heap.

// hubNamePattern is the service's rule for hub (and application) names.
var hubNamePattern = hubname.Pattern

// maxGroupNameLength is the longest group name the service accepts.
const maxGroupNameLength = 1024

// validGroupName reports whether g has 1 to 1024 characters.
func validGroupName(g string) bool {
	n := utf8.RuneCountInString(g)
	return n >= 1 && n <= maxGroupNameLength
}

// connSet is a set of connections.
type connSet map[*conn]struct{}

// hub is the state of one (lower-cased) hub.
type hub struct {
	conns  map[string]*conn   // connected clients by connection id
	users  map[string]connSet // connected clients by user id
	groups map[string]connSet // connection-level group membership

	// User-level group membership, kept while the user has no connection:
	// group → user → membership, and its reverse index.
	groupUsers map[string]map[string]*userMembership
	userGroups map[string]map[string]struct{}
	expiries   expiryHeap // the memberships that have an expiry
}

// userMembership is a user's membership of a group.
type userMembership struct {
	user, group string
	expiry      time.Time // zero: none
	index       int       // in hub.expiries; -1 when not there
}

// active reports whether m still holds at now.
func (m *userMembership) active(now time.Time) bool {
	return m.expiry.IsZero() || now.Before(m.expiry)
}

// expiryHeap is a min-heap of memberships by expiry (container/heap).
type expiryHeap []*userMembership

func (e expiryHeap) Len() int           { return len(e) }
func (e expiryHeap) Less(i, j int) bool { return e[i].expiry.Before(e[j].expiry) }
func (e expiryHeap) Swap(i, j int) {
	e[i], e[j] = e[j], e[i]
	e[i].index, e[j].index = i, j
}
func (e *expiryHeap) Push(x any) {
	m := x.(*userMembership)
	m.index = len(*e)
	*e = append(*e, m)
}
func (e *expiryHeap) Pop() any {
	old := *e
	m := old[len(old)-1]
	old[len(old)-1] = nil
	*e = old[:len(old)-1]
	m.index = -1
	return m
}

func newHub() *hub {
	return &hub{
		conns:      map[string]*conn{},
		users:      map[string]connSet{},
		groups:     map[string]connSet{},
		groupUsers: map[string]map[string]*userMembership{},
		userGroups: map[string]map[string]struct{}{},
	}
}

// hubLocked returns the hub named name, creating it when create is set;
// it may return nil otherwise. s.mu must be held (for writing when create).
func (s *Service) hubLocked(name string, create bool) *hub {
	h := s.hubs[name]
	if h == nil && create {
		h = newHub()
		s.hubs[name] = h
	}
	return h
}

// addConnLocked makes c reachable by REST calls.
func (s *Service) addConnLocked(c *conn) {
	h := s.hubLocked(c.hub, true)
	h.conns[c.id] = c
	if c.user != "" {
		set := h.users[c.user]
		if set == nil {
			set = connSet{}
			h.users[c.user] = set
		}
		set[c] = struct{}{}
	}
}

// removeConnLocked forgets c and its connection-level group memberships.
// User-level memberships stay: they apply to the user's later connections.
func (s *Service) removeConnLocked(c *conn) {
	h := s.hubLocked(c.hub, false)
	if h == nil || h.conns[c.id] != c {
		return
	}
	delete(h.conns, c.id)
	if set := h.users[c.user]; set != nil {
		delete(set, c)
		if len(set) == 0 {
			delete(h.users, c.user)
		}
	}
	for g := range c.groups {
		h.leaveGroup(g, c)
	}
	c.groups = nil
	s.dropHubIfEmptyLocked(c.hub, h)
}

// dropHubIfEmptyLocked deletes a hub that holds nothing any more.
func (s *Service) dropHubIfEmptyLocked(name string, h *hub) {
	if len(h.conns) == 0 && len(h.groupUsers) == 0 {
		delete(s.hubs, name)
	}
}

// joinGroup adds c to group g (connection level).
func (h *hub) joinGroup(g string, c *conn) {
	set := h.groups[g]
	if set == nil {
		set = connSet{}
		h.groups[g] = set
	}
	set[c] = struct{}{}
	if c.groups == nil {
		c.groups = map[string]struct{}{}
	}
	c.groups[g] = struct{}{}
}

// leaveGroup removes c from group g (connection level).
func (h *hub) leaveGroup(g string, c *conn) {
	if set := h.groups[g]; set != nil {
		delete(set, c)
		if len(set) == 0 {
			delete(h.groups, g)
		}
	}
	delete(c.groups, g)
}

// addUserToGroup adds user u to group g until expiry (zero: no expiry),
// replacing the expiry of a membership it already has.
func (h *hub) addUserToGroup(u, g string, expiry time.Time) {
	users := h.groupUsers[g]
	if users == nil {
		users = map[string]*userMembership{}
		h.groupUsers[g] = users
	}
	m := users[u]
	if m == nil {
		m = &userMembership{user: u, group: g, index: -1}
		users[u] = m
	}
	m.expiry = expiry
	switch {
	case m.index >= 0 && expiry.IsZero():
		heap.Remove(&h.expiries, m.index)
	case m.index >= 0:
		heap.Fix(&h.expiries, m.index)
	case !expiry.IsZero():
		heap.Push(&h.expiries, m)
	}
	groups := h.userGroups[u]
	if groups == nil {
		groups = map[string]struct{}{}
		h.userGroups[u] = groups
	}
	groups[g] = struct{}{}
}

// removeUserFromGroup removes user u from group g (user level).
func (h *hub) removeUserFromGroup(u, g string) {
	if users := h.groupUsers[g]; users != nil {
		if m := users[u]; m != nil && m.index >= 0 {
			heap.Remove(&h.expiries, m.index)
		}
		delete(users, u)
		if len(users) == 0 {
			delete(h.groupUsers, g)
		}
	}
	if groups := h.userGroups[u]; groups != nil {
		delete(groups, g)
		if len(groups) == 0 {
			delete(h.userGroups, u)
		}
	}
}

// removeUserFromAllGroups removes user u from every group (user level).
func (h *hub) removeUserFromAllGroups(u string) {
	for g := range h.userGroups[u] {
		h.removeUserFromGroup(u, g)
	}
}

// userInGroup reports whether user u belongs to group g, either itself (and
// not expired) or through one of its connections.
func (h *hub) userInGroup(u, g string, now time.Time) bool {
	if m := h.groupUsers[g][u]; m != nil && m.active(now) {
		return true
	}
	for c := range h.users[u] {
		if _, ok := c.groups[g]; ok {
			return true
		}
	}
	return false
}

// groupMembers calls f once for every connection in group g: connections
// added to it, and connections of users added to it.
func (h *hub) groupMembers(g string, now time.Time, f func(*conn)) {
	for c := range h.groups[g] {
		f(c)
	}
	for u, m := range h.groupUsers[g] {
		if !m.active(now) {
			continue
		}
		for c := range h.users[u] {
			if _, ok := c.groups[g]; !ok { // not already reached above
				f(c)
			}
		}
	}
}

// hasMember reports whether group g reaches at least one connection,
// stopping at the first.
func (h *hub) hasMember(g string, now time.Time) bool {
	if len(h.groups[g]) > 0 {
		return true
	}
	for u, m := range h.groupUsers[g] {
		if m.active(now) && len(h.users[u]) > 0 {
			return true
		}
	}
	return false
}

// pruneExpiredLocked drops the user-group memberships of h whose ttl has
// passed: each operation that changes memberships calls it, and pays for
// what expired, not for the size of the hub.
func (s *Service) pruneExpiredLocked(name string, h *hub) {
	now := s.now()
	for len(h.expiries) > 0 && !h.expiries[0].active(now) {
		m := h.expiries[0]
		h.removeUserFromGroup(m.user, m.group)
	}
	s.dropHubIfEmptyLocked(name, h)
}
