package tips

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// deskMetrics count what the desk did with tips. A nil *deskMetrics counts
// nothing.
type deskMetrics struct {
	received  *prometheus.CounterVec // by result: verified, rejected
	rejected  *prometheus.CounterVec // by code
	forwarded *prometheus.CounterVec // by state: forwarded, queued (retry), failed
}

func newDeskMetrics(reg prometheus.Registerer) (*deskMetrics, error) {
	m := &deskMetrics{
		received: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "vtpeer", Subsystem: "tips",
			Name: "received_total", Help: "Tips received, by result (verified or rejected)."}, []string{"result"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "vtpeer", Subsystem: "tips",
			Name: "rejected_total", Help: "Tips rejected, by code (replay, expired, signer_mismatch, …)."}, []string{"code"}),
		forwarded: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "vtpeer", Subsystem: "tips",
			Name: "forward_attempts_total", Help: "Forward attempts to the orchestrator, by resulting state."}, []string{"state"}),
	}
	for _, c := range []prometheus.Collector{m.received, m.rejected, m.forwarded} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("tips: register desk metrics: %w", err)
		}
	}
	return m, nil
}

// count records one judged tip.
func (m *deskMetrics) count(v Verdict) {
	if m == nil {
		return
	}
	if v.Accepted {
		m.received.WithLabelValues("verified").Inc()
		return
	}
	m.received.WithLabelValues("rejected").Inc()
	m.rejected.WithLabelValues(v.Code).Inc()
}

// forward records one forward attempt's resulting state.
func (m *deskMetrics) forward(state string) {
	if m != nil {
		m.forwarded.WithLabelValues(state).Inc()
	}
}
