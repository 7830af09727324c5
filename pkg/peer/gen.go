package peer

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/pion/webrtc/v4"
)

// MaxGen is the largest transport generation this package creates: 2^53 − 1, the largest
// integer a JavaScript number (IEEE 754 double) holds exactly, so that a browser peer can parse
// an offer's gen with JSON.parse and echo it unchanged. Generations are microseconds since 1970
// (≈ 1.8 × 10^15 today, below MaxGen until the year 2255). Peers before this change used
// nanoseconds (above MaxGen); their gens are still accepted and echoed exactly.
const MaxGen = 1<<53 - 1

// newGen returns a transport generation: increasing within a process and, being a timestamp,
// larger after a restart than any generation the old process used.
func newGen() uint64 { return uint64(time.Now().UnixMicro()) }

// genField is the "gen" of offer, answer, ice, restart and relay data on the wire. We write a
// JSON number; we read a number or a decimal string (for implementations whose JSON numbers
// cannot hold 64 bits), in both cases plain digits without sign, fraction, exponent or leading
// zero, 1 … 2^64 − 1. A missing gen decodes as 0, which the callers refuse.
type genField uint64

// UnmarshalJSON implements json.Unmarshaler.
func (g *genField) UnmarshalJSON(b []byte) error {
	digits := b
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		digits = b[1 : len(b)-1]
	}
	if len(digits) == 0 || len(digits) > 20 || (digits[0] == '0' && len(digits) > 1) {
		return fmt.Errorf("gen %.40s: want a positive integer", b)
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return fmt.Errorf("gen %.40s: want a positive integer (digits only, as a number or a string)", b)
		}
	}
	v, err := strconv.ParseUint(string(digits), 10, 64)
	if err != nil {
		return fmt.Errorf("gen %.40s: out of range", b)
	}
	*g = genField(v)
	return nil
}

// sigWire is sigPayload as read from the wire.
type sigWire struct {
	Gen       genField                 `json:"gen"`
	SDP       string                   `json:"sdp"`
	Candidate *webrtc.ICECandidateInit `json:"candidate"`
	Upgrade   bool                     `json:"upgrade"`
}

// decodeSigPayload parses the data of an offer, answer, ice or restart frame. Unknown fields are
// ignored (a newer peer may add some); a missing, zero or malformed gen is an error.
func decodeSigPayload(typ string, data []byte) (sigPayload, error) {
	var w sigWire
	if err := json.Unmarshal(data, &w); err != nil {
		return sigPayload{}, err
	}
	if w.Gen == 0 {
		return sigPayload{}, fmt.Errorf("missing or zero gen")
	}
	p := sigPayload{Gen: uint64(w.Gen), SDP: w.SDP, Candidate: w.Candidate, Upgrade: w.Upgrade}
	switch {
	case (typ == SignalOffer || typ == SignalAnswer) && p.SDP == "":
		return sigPayload{}, fmt.Errorf("%s without sdp", typ)
	case typ == SignalICE && p.Candidate == nil:
		return sigPayload{}, fmt.Errorf("ice without candidate")
	}
	return p, nil
}

// announcedMaxMessageSize is the a=max-message-size of our SDP: Options.MaxMessageSize, capped at
// RelayMaxFrame when the session may run over the server relay (ViaAuto, ViaServer).
func announcedMaxMessageSize(o *Options) int {
	if o.Via == ViaAuto || o.Via == ViaServer {
		return min(o.MaxMessageSize, RelayMaxFrame)
	}
	return o.MaxMessageSize
}
