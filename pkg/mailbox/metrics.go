package mailbox

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the Box's Prometheus metrics, registered in the caller's
// registry (never a global one).
type metrics struct {
	messages prometheus.Gauge
	bytes    prometheus.Gauge
	boxes    prometheus.Gauge
	rejected *prometheus.CounterVec
	expired  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	opts := func(name, help string) prometheus.GaugeOpts {
		return prometheus.GaugeOpts{Namespace: "vtpeer", Subsystem: "mailbox", Name: name, Help: help}
	}
	m := &metrics{
		messages: prometheus.NewGauge(opts("messages", "Messages stored in all mailboxes.")),
		bytes:    prometheus.NewGauge(opts("bytes", "Bytes of messages stored in all mailboxes.")),
		boxes:    prometheus.NewGauge(opts("boxes", "Non-empty mailboxes.")),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "vtpeer", Subsystem: "mailbox",
			Name: "rejected_total", Help: "Messages refused by Put, by reason."}, []string{"reason"}),
		expired: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "vtpeer", Subsystem: "mailbox",
			Name: "expired_total", Help: "Messages deleted unread after their TTL."}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.messages, m.bytes, m.boxes, m.rejected, m.expired} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("%w: metrics already registered in this registry", ErrBadOptions)
			}
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return m, nil
}

// rejectReason names a Put error for the rejected_total label.
func rejectReason(err error) string {
	for _, r := range []struct {
		err  error
		name string
	}{
		{ErrTooBig, "too_big"}, {ErrMailboxFull, "mailbox_full"}, {ErrMailboxBytes, "mailbox_bytes"},
		{ErrTooManyBoxes, "too_many_boxes"}, {ErrStoreFull, "store_full"}, {ErrEmpty, "empty"}, {ErrBadRoom, "bad_room"},
		{ErrBadMailboxID, "bad_mailbox_id"},
	} {
		if errors.Is(err, r.err) {
			return r.name
		}
	}
	return "error"
}
