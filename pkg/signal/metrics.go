package signal

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the server's Prometheus metrics; they live on the Server and
// are registered in the caller's registry, never a global one.
type metrics struct {
	conns    prometheus.Gauge
	rooms    prometheus.Gauge
	relayed  prometheus.Counter
	rejected *prometheus.CounterVec
	bytesIn  prometheus.Counter
	bytesOut prometheus.Counter
	dropped  *prometheus.CounterVec
	fallback prometheus.Counter // frames of type "relay": the sealed fallback path
	mailIn   prometheus.Counter
	mailOut  prometheus.Counter

	pushbacks       prometheus.Counter // a sender's reads held while a recipient's queue drained
	pushbackSeconds prometheus.Counter
	pending         prometheus.Gauge       // connections not yet upgraded (ConnState)
	pendingCut      *prometheus.CounterVec // of those, cut by the server, by reason
	acceptErrors    *prometheus.CounterVec // failed Accepts (Listener), by errno
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		conns: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "vtpeer", Subsystem: "signal",
			Name: "connections", Help: "Open WebSocket connections."}),
		rooms: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "vtpeer", Subsystem: "signal",
			Name: "rooms", Help: "Rooms with at least one member."}),
		relayed: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "vtpeer", Subsystem: "signal",
			Name: "frames_relayed_total", Help: "Frames delivered to another member (one per recipient)."}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "vtpeer", Subsystem: "signal",
			Name: "frames_rejected_total", Help: "Frames refused, by error code."}, []string{"code"}),
		bytesIn: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "vtpeer", Subsystem: "signal",
			Name: "bytes_received_total", Help: "Payload bytes of frames received from clients."}),
		bytesOut: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "vtpeer", Subsystem: "signal",
			Name: "bytes_sent_total", Help: "Payload bytes of frames written to clients."}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "vtpeer", Subsystem: "signal",
			Name: "connections_dropped_total", Help: "Connections closed by the server, by reason."}, []string{"reason"}),
		fallback: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "vtpeer", Subsystem: "signal",
			Name: "fallback_frames_total", Help: "Frames of type relay received: peers using the server as their end-to-end sealed fallback path."}),
		mailIn: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "vtpeer", Subsystem: "signal",
			Name: "mail_deposited_total", Help: "Sealed mail deposits stored."}),
		mailOut: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "vtpeer", Subsystem: "signal",
			Name: "mail_delivered_total", Help: "Sealed mail handed over to a joining peer."}),
		pushbacks: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "vtpeer", Subsystem: "signal",
			Name: "pushbacks_total", Help: "Times a sender's next frame was read only after a recipient's full send queue drained (back-pressure instead of a drop)."}),
		pushbackSeconds: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "vtpeer", Subsystem: "signal",
			Name: "pushback_seconds_total", Help: "Time senders spent held back by recipients' full send queues."}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "vtpeer", Subsystem: "signal",
			Name: "pending_connections", Help: "Connections that have not become WebSockets (counted when ConnState is set)."}),
		pendingCut: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "vtpeer", Subsystem: "signal",
			Name: "pending_cut_total", Help: "Connections cut before they became WebSockets, by reason (per_ip, full, evicted, shutdown, fd_exhausted)."}, []string{"reason"}),
		acceptErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "vtpeer", Subsystem: "signal",
			Name: "accept_errors_total", Help: "Failed Accepts on the listener, by errno (EMFILE: out of file descriptors)."}, []string{"errno"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.conns, m.rooms, m.relayed, m.rejected, m.bytesIn, m.bytesOut, m.dropped, m.fallback, m.mailIn, m.mailOut,
		m.pending, m.pendingCut, m.acceptErrors, m.pushbacks, m.pushbackSeconds} {
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
