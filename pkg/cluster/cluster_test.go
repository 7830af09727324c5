package cluster

import (
	"testing"

	"github.com/verytippers/vtpeer/pkg/signal/signaltest"
)

// TestProtocolAcrossNATSNodes runs the signaling protocol suite with the
// members of each room on different nodes of a real three-node NATS
// cluster (embedded servers routed over loopback, room bucket R3).
func TestProtocolAcrossNATSNodes(t *testing.T) {
	t.Parallel()
	signaltest.Run(t, natsSignalNodes)
}
