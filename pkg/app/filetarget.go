package app

import (
	"errors"
	"fmt"
	"strings"

	"github.com/verytippers/vtpeer/pkg/peer"
)

// ChooseFileTarget picks the one peer files go to, the rule of tips
// (ChooseTipTarget) made strict for private data: with to, the connected
// peer that proves the account to (never an unproven one); with peerFlag,
// that connected peer; with neither, the only connected peer, proven or not.
// Several connected peers and no name are refused with ErrAmbiguousTarget.
func ChooseFileTarget(ps []peer.PeerInfo, to, peerFlag string) (string, error) {
	var connected, ids []string
	for _, p := range ps {
		if !p.Connected {
			continue
		}
		if to != "" && strings.EqualFold(p.Address, to) {
			return p.ID, nil
		}
		if peerFlag != "" && p.ID == peerFlag {
			return p.ID, nil
		}
		connected = append(connected, peerLabel(p))
		ids = append(ids, p.ID)
	}
	switch {
	case to != "":
		return "", fmt.Errorf("no connected peer proves %s (connected: %s)", to, orDash(strings.Join(connected, ", ")))
	case peerFlag != "":
		return "", fmt.Errorf("peer %s is not connected (connected: %s)", peerFlag, orDash(strings.Join(connected, ", ")))
	}
	switch len(ids) {
	case 0:
		return "", errors.New("no peer is connected")
	case 1:
		return ids[0], nil
	default:
		return "", fmt.Errorf("%w: %d peers are connected: name the recipient with --to 0xADDRESS or --peer ID (%s)", ErrAmbiguousTarget, len(ids), strings.Join(connected, ", "))
	}
}

// peerLabel is a peer's id and, when it proved one, its account.
func peerLabel(p peer.PeerInfo) string {
	if p.Address != "" {
		return p.ID + " (" + p.Address + ")"
	}
	return p.ID
}
