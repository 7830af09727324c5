package turnserver

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the Server's Prometheus metrics.
type metrics struct {
	allocations       prometheus.Gauge
	allocationsTotal  prometheus.Counter
	relayedBytes      *prometheus.CounterVec // direction: to_peer, from_peer
	droppedBytes      *prometheus.CounterVec // over the bandwidth quota
	authFailures      prometheus.Counter
	quotaRejections   prometheus.Counter
	permissionsDenied prometheus.Counter
	selfDroppedVec    *prometheus.CounterVec // own address, not a live allocation

	// children of relayedBytes and droppedBytes, resolved once
	toPeer, fromPeer, droppedToPeer, droppedFromPeer prometheus.Counter
	selfDroppedToPeer, selfDroppedFromPeer           prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		allocations: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vtpeer_turn_allocations", Help: "TURN allocations active now.",
		}),
		allocationsTotal: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vtpeer_turn_allocations_total", Help: "TURN allocations made.",
		}),
		relayedBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vtpeer_turn_relayed_bytes_total", Help: "Payload bytes relayed, by direction (to_peer, from_peer).",
		}, []string{"direction"}),
		droppedBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vtpeer_turn_dropped_bytes_total", Help: "Payload bytes dropped over a user's bandwidth quota, by direction.",
		}, []string{"direction"}),
		authFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vtpeer_turn_auth_failures_total", Help: "TURN requests refused for malformed, expired or forged credentials.",
		}),
		quotaRejections: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vtpeer_turn_quota_rejections_total", Help: "Allocations refused by the per-user allocation quota.",
		}),
		permissionsDenied: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vtpeer_turn_permissions_denied_total", Help: "Permissions and channel binds refused by the peer address policy.",
		}),
		selfDroppedVec: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vtpeer_turn_self_dropped_total",
			Help: "Datagrams to or from the server's own relay address on a port that is no live allocation, dropped, by direction.",
		}, []string{"direction"}),
	}
	m.toPeer = m.relayedBytes.WithLabelValues("to_peer")
	m.fromPeer = m.relayedBytes.WithLabelValues("from_peer")
	m.droppedToPeer = m.droppedBytes.WithLabelValues("to_peer")
	m.droppedFromPeer = m.droppedBytes.WithLabelValues("from_peer")
	m.selfDroppedToPeer = m.selfDroppedVec.WithLabelValues("to_peer")
	m.selfDroppedFromPeer = m.selfDroppedVec.WithLabelValues("from_peer")
	return m
}

func (m *metrics) register(r prometheus.Registerer) error {
	if r == nil {
		return nil
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.allocations, m.allocationsTotal, m.relayedBytes,
		m.droppedBytes, m.authFailures, m.quotaRejections, m.permissionsDenied, m.selfDroppedVec} {
		errs = append(errs, r.Register(c))
	}
	return errors.Join(errs...)
}
