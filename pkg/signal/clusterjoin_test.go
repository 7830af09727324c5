package signal

import (
	"slices"
	"testing"
)

// TestRemoteMembers checks the sorted slice a room keeps of the members
// other nodes hold (it replaced a map): this node's members left out,
// sorted by peer id, the last of a repeated peer id kept, found by id.
func TestRemoteMembers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		ms   []Member
		want []remoteMember
	}{
		{"none", nil, nil},
		{"only this node's", []Member{{PeerID: "a", Node: "self", Session: "1"}}, nil},
		{"sorted, self left out", []Member{
			{PeerID: "c", Node: "n2", Session: "3"},
			{PeerID: "a", Node: "n1", Session: "1"},
			{PeerID: "b", Node: "self", Session: "2"},
			{PeerID: "d", Node: "n1", Session: "4"},
		}, []remoteMember{{"a", "1"}, {"c", "3"}, {"d", "4"}}},
		{"repeated id: the last one", []Member{
			{PeerID: "b", Node: "n1", Session: "old"},
			{PeerID: "a", Node: "n2", Session: "1"},
			{PeerID: "b", Node: "n2", Session: "new"},
		}, []remoteMember{{"a", "1"}, {"b", "new"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := remoteMembers(tc.ms, "self")
			if !slices.Equal(got, tc.want) {
				t.Fatalf("remoteMembers = %v, want %v", got, tc.want)
			}
			for _, m := range tc.want {
				if s, ok := findRemote(got, m.id); !ok || s != m.session {
					t.Errorf("findRemote(%q) = %q, %v; want %q", m.id, s, ok, m.session)
				}
			}
			for _, id := range []string{"", "self", "b0", "z"} {
				if _, ok := findRemote(got, id); ok && !slices.ContainsFunc(tc.want, func(m remoteMember) bool { return m.id == id }) {
					t.Errorf("findRemote(%q) found a member not in the list", id)
				}
			}
		})
	}
}
