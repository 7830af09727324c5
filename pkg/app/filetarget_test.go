package app

import (
	"errors"
	"strings"
	"testing"

	"github.com/verytippers/vtpeer/pkg/peer"
)

// TestChooseFileTarget: files go to the peer proving --to (never to an
// unproven one standing in), to --peer, or to the only connected peer;
// two connected peers and no name is the exactly-one error.
func TestChooseFileTarget(t *testing.T) {
	t.Parallel()
	const to, other = "0xD4be4442D6C200E665c6b08A2FEf88c925D1A557", "0x19F860a5C0b29E5b52f6dC90A215C6b4ED37Aa58"
	proven := func(id, addr string) peer.PeerInfo { return peer.PeerInfo{ID: id, Connected: true, Address: addr} }
	anon := func(id string) peer.PeerInfo { return peer.PeerInfo{ID: id, Connected: true} }
	tests := []struct {
		name      string
		peers     []peer.PeerInfo
		to, flag  string
		want      string
		wantErr   string
		ambiguous bool
	}{
		{"recipient proves --to", []peer.PeerInfo{anon("a"), proven("b", to)}, to, "", "b", "", false},
		{"--to, only an unproven peer", []peer.PeerInfo{anon("a")}, to, "", "", "no connected peer proves", false},
		{"--to, a peer proving someone else", []peer.PeerInfo{proven("a", other)}, to, "", "", "no connected peer proves", false},
		{"lone anonymous peer", []peer.PeerInfo{anon("a")}, "", "", "a", "", false},
		{"lone proven peer", []peer.PeerInfo{proven("a", other)}, "", "", "a", "", false},
		{"two peers, no name", []peer.PeerInfo{anon("a"), proven("b", other)}, "", "", "", "2 peers are connected", true},
		{"two peers, --peer", []peer.PeerInfo{anon("a"), anon("b")}, "", "b", "b", "", false},
		{"--peer not connected", []peer.PeerInfo{anon("a"), {ID: "b"}}, "", "b", "", "peer b is not connected", false},
		{"nobody", nil, "", "", "", "no peer is connected", false},
		{"not yet connected", []peer.PeerInfo{{ID: "a"}}, "", "", "", "no peer is connected", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ChooseFileTarget(tt.peers, tt.to, tt.flag)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || errors.Is(err, ErrAmbiguousTarget) != tt.ambiguous {
					t.Fatalf("got %q, %v; want error containing %q (ambiguous %v)", got, err, tt.wantErr, tt.ambiguous)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
