package peer

import "github.com/prometheus/client_golang/prometheus"

// metrics are the Node's Prometheus collectors, registered in Options.Registry (if any). They
// exist (unregistered) without a registry so that the code never checks for nil.
type metrics struct {
	attempts    *prometheus.CounterVec   // transport attempts by kind: webrtc, server
	connections *prometheus.CounterVec   // transport outcomes: direct, turn, server, failed
	fallbacks   prometheus.Counter       // ViaAuto fallbacks to the server relay
	pathChanges *prometheus.CounterVec   // live moves between transports, by from and to
	connectTime *prometheus.HistogramVec // seconds to a ready transport, by path
	messages    *prometheus.CounterVec   // application messages by direction: sent, received
	bytes       *prometheus.CounterVec   // application body bytes by direction
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vtpeer_peer_connection_attempts_total",
			Help: "Transport attempts by transport (webrtc: a PeerConnection; server: a relay transport through the signaling server).",
		}, []string{"transport"}),
		connections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vtpeer_peer_connections_total",
			Help: "Transport outcomes: ready over a path (direct, turn, server) or failed (closed before it was ready).",
		}, []string{"path"}),
		fallbacks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vtpeer_peer_fallbacks_total",
			Help: "Times no ICE pair was ready within the p2p timeout and the server relay was started (via auto).",
		}),
		pathChanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vtpeer_peer_path_changes_total",
			Help: "Live sessions moved from one transport path to another without a gap.",
		}, []string{"from", "to"}),
		connectTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "vtpeer_peer_connect_seconds",
			Help:    "Time to a ready sealed session by path: from the first attempt of a (re)connection, or from the creation of the transport a live session moved to.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15, 30, 60},
		}, []string{"path"}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vtpeer_peer_messages_total",
			Help: "Application messages sent (accepted by Send) and received (delivered once).",
		}, []string{"direction"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vtpeer_peer_message_bytes_total",
			Help: "Application message body bytes sent and received.",
		}, []string{"direction"}),
	}
	for _, p := range []string{PathDirect, PathTURN, PathServer, "failed"} {
		m.connections.WithLabelValues(p)
	}
	for _, d := range []string{"sent", "received"} {
		m.messages.WithLabelValues(d)
		m.bytes.WithLabelValues(d)
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.attempts, m.connections, m.fallbacks, m.pathChanges, m.connectTime, m.messages, m.bytes} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
