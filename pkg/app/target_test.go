package app

import (
	"strings"
	"testing"

	"github.com/verytippers/vtpeer/pkg/peer"
)

// TestChooseTipTarget: a tip only ever goes to the peer proving its
// recipient, or to a lone peer that proves nothing — never to a peer that
// proves somebody else.
func TestChooseTipTarget(t *testing.T) {
	t.Parallel()
	const to, other = "0xD4be4442D6C200E665c6b08A2FEf88c925D1A557", "0x19F860a5C0b29E5b52f6dC90A215C6b4ED37Aa58"
	proven := func(id, addr string) peer.PeerInfo { return peer.PeerInfo{ID: id, Connected: true, Address: addr} }
	anon := func(id string) peer.PeerInfo { return peer.PeerInfo{ID: id, Connected: true} }
	tests := []struct {
		name    string
		peers   []peer.PeerInfo
		flag    string
		want    string
		wantErr string
	}{
		{"recipient proves its address", []peer.PeerInfo{anon("a"), proven("b", to)}, "", "b", ""},
		{"lone anonymous peer", []peer.PeerInfo{anon("a")}, "", "a", ""},
		{"lone peer proving someone else", []peer.PeerInfo{proven("a", other)}, "", "", "no peer here proves"},
		{"explicit peer proving someone else", []peer.PeerInfo{proven("a", other)}, "a", "", "not the recipient"},
		{"several anonymous", []peer.PeerInfo{anon("a"), anon("b")}, "", "", "pick one with --peer"},
		{"several anonymous, picked", []peer.PeerInfo{anon("a"), anon("b")}, "b", "b", ""},
		{"nobody", nil, "", "", "no peer is connected"},
		{"not yet connected", []peer.PeerInfo{{ID: "a"}}, "", "", "no peer is connected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ChooseTipTarget(tt.peers, to, tt.flag)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %q, %v; want error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
