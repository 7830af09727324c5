package mailbox

import (
	"time"
)

// MaxSeenIDLen bounds a seen id: room for "<from>/<message id>".
const MaxSeenIDLen = 200

// Seen reports whether id was marked seen (and not pruned since).
func (o *Outbox) Seen(id string) (bool, error) {
	if !printable(id, MaxSeenIDLen) {
		return false, ErrBadID
	}
	return o.seen.Seen([]byte(id))
}

// MarkSeen records id (1..MaxSeenIDLen bytes of printable ASCII) as seen at
// the given time and reports whether it is new. The test and the set are
// one transaction, so of two deliveries of the same message exactly one
// gets true: hand the message to the application only then. Namespace ids
// by sender ("<from>/<id>") unless they are globally unique.
func (o *Outbox) MarkSeen(id string, at time.Time) (bool, error) {
	if !printable(id, MaxSeenIDLen) {
		return false, ErrBadID
	}
	return o.seen.Mark([]byte(id), at)
}

// PruneSeen forgets the ids marked before cutoff and returns how many. A
// message resent after its id is pruned is delivered again, so keep ids
// longer than any sender retries (and than the server mailbox's TTL).
func (o *Outbox) PruneSeen(cutoff time.Time) (int, error) {
	n, err := o.seen.Prune(cutoff)
	if n > 0 {
		o.opts.Logger.Debug("pruned seen ids", "count", n)
	}
	return n, err
}
