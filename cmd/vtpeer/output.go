package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/verytippers/vtpeer/pkg/app"
	"github.com/verytippers/vtpeer/pkg/tips"
)

// output writes what a peer command shows its user: human lines
// ("[15:04:05] <peer>: text", "* status") or, with --json, one JSON object
// per line and nothing else. It is safe for concurrent use.
type output struct {
	mu   sync.Mutex
	w    io.Writer
	json bool
	now  func() time.Time
}

func newOutput(w io.Writer, asJSON bool) *output {
	return &output{w: w, json: asJSON, now: time.Now}
}

// event writes ev (a struct with a "type" field) in JSON mode, or line in
// text mode. An empty line prints nothing in text mode.
func (o *output) event(ev any, line string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.json {
		b, err := json.Marshal(ev)
		if err != nil {
			b = []byte(fmt.Sprintf(`{"type":"error","code":"internal","error":%q}`, err.Error()))
		}
		_, _ = o.w.Write(append(b, '\n'))
		return
	}
	if line != "" {
		fmt.Fprintf(o.w, "[%s] %s\n", o.now().Format("15:04:05"), line)
	}
}

// text writes a line in text mode only (command answers such as /peers).
func (o *output) text(format string, args ...any) {
	if o.json {
		return
	}
	o.event(nil, fmt.Sprintf(format, args...))
}

// JSON events of `vtpeer join --json`, documented in the README.
type (
	evJoined struct {
		Type   string   `json:"type"` // "joined"
		Room   string   `json:"room"`
		PeerID string   `json:"peerId"`
		Peers  []string `json:"peers"`
	}
	evPeerConnected struct {
		Type      string `json:"type"` // "peer-connected"
		Peer      string `json:"peer"`
		SAS       string `json:"sas"`
		Address   string `json:"address,omitempty"`
		Path      string `json:"path"`
		Candidate string `json:"candidate,omitempty"`
	}
	evMessage struct {
		Type string `json:"type"` // "message"
		Peer string `json:"peer"`
		From string `json:"from,omitempty"` // the signed sender of mail
		Text string `json:"text"`
		// SentAt is mail's signed send time (RFC 3339, UTC); empty for live messages.
		SentAt string `json:"sentAt,omitempty"`
	}
	evPathChanged struct {
		Type string `json:"type"` // "path-changed"
		Peer string `json:"peer"`
		From string `json:"from"`
		To   string `json:"to"`
	}
	evPeerLeft struct {
		Type   string `json:"type"` // "peer-left"
		Peer   string `json:"peer"`
		Reason string `json:"reason,omitempty"`
	}
	evSASChanged struct {
		Type    string `json:"type"` // "sas-changed"
		Peer    string `json:"peer"`
		Old     string `json:"old"`
		New     string `json:"new"`
		Address string `json:"address,omitempty"`
	}
	evHandshakeFailed struct {
		Type   string `json:"type"` // "handshake-failed"
		Peer   string `json:"peer"`
		Count  int    `json:"count"`
		Reason string `json:"reason"`
		Capped bool   `json:"capped"`
	}
	evUndelivered struct {
		Type  string `json:"type"` // "undelivered"
		Peer  string `json:"peer"`
		Count int    `json:"count"`
		When  string `json:"when"` // "left", "exit" or "sas-changed"
		// Reason is "sas_changed" when the messages were dropped (not resent to a new
		// anonymous session); empty otherwise (they stay queued).
		Reason  string `json:"reason,omitempty"`
		Dropped bool   `json:"dropped,omitempty"`
	}
	evStatus struct {
		Type    string `json:"type"` // "reconnecting", "rejoined"
		Error   string `json:"error,omitempty"`
		Attempt int    `json:"attempt,omitempty"` // reconnecting: the failed connection attempt
	}
	evError struct {
		Type  string `json:"type"` // "error"
		Peer  string `json:"peer,omitempty"`
		Code  string `json:"code"`
		Error string `json:"error"`
	}
	evTip struct {
		Type string `json:"type"` // "tip"
		tipEvent
	}
	evReceipt struct {
		Type        string `json:"type"` // "receipt"
		Peer        string `json:"peer"`
		MessageHash string `json:"messageHash"`
		Accepted    bool   `json:"accepted"`
		Code        string `json:"code,omitempty"`
		Reason      string `json:"reason,omitempty"`
		Forwarded   string `json:"forwarded,omitempty"`
		Signer      string `json:"signer,omitempty"`
		SignerValid bool   `json:"signerValid"`
	}
	// evDelivered reports outbox items acknowledged by their addressee.
	evDelivered struct {
		Type  string `json:"type"` // "delivered"
		To    string `json:"to"`
		Count int    `json:"count"`
	}
	// evQueued reports --to messages still waiting in the outbox when join ends.
	evQueued struct {
		Type  string `json:"type"` // "queued"
		To    string `json:"to"`
		Count int    `json:"count"`
	}
	// evDeposited reports messages left in the server's mailbox.
	evDeposited struct {
		Type  string `json:"type"` // "deposited"
		To    string `json:"to"`
		Count int    `json:"count"`
	}
	evForward struct {
		Type        string `json:"type"` // "forward"
		MessageHash string `json:"messageHash"`
		State       string `json:"state"`
		Error       string `json:"error,omitempty"`
	}
)

// tipEvent is what the receiver reports about one incoming tip.
type tipEvent struct {
	Peer            string `json:"peer"`
	From            string `json:"from,omitempty"`
	To              string `json:"to,omitempty"`
	Amount          string `json:"amount,omitempty"`
	AmountVery      string `json:"amountVery,omitempty"`
	Cid             string `json:"cid"`
	MessageHash     string `json:"messageHash,omitempty"`
	Verified        bool   `json:"verified"`
	Code            string `json:"code,omitempty"`
	Reason          string `json:"reason,omitempty"`
	TimestampSigned bool   `json:"timestampSigned"`
	Forwarded       string `json:"forwarded,omitempty"`
}

// tipEventOf renders the desk's verdict on a tip from peer.
func tipEventOf(peer string, v tips.Verdict) tipEvent {
	return tipEvent{Peer: peer, From: v.From, To: v.To, Amount: v.Amount, AmountVery: v.AmountVery, Cid: v.Cid,
		MessageHash: v.MessageHash, Verified: v.Accepted, Code: v.Code, Reason: v.Reason,
		TimestampSigned: v.TimestampSigned, Forwarded: v.Forwarded}
}

// receiptEvent renders a receipt for one of our tips.
func receiptEvent(r app.Receipt) evReceipt {
	return evReceipt{Type: "receipt", Peer: r.Peer, MessageHash: r.MessageHash, Accepted: r.Accepted, Code: r.Code,
		Reason: r.Reason, Forwarded: r.Forwarded, Signer: r.Signer, SignerValid: r.SignerValid}
}

// shortID abbreviates a peer id or address for human lines.
func shortID(s string) string {
	if len(s) > 10 {
		return s[:10]
	}
	return s
}
