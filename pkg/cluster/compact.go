package cluster

import (
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Every compare-and-set of a room writes the room's whole value into the
// Raft log of the bucket's stream, on every replica, and a memory-storage
// stream keeps that log in memory. nats-server compacts a stream's log
// (installs a snapshot of the stream's state and drops the entries before
// it) only after 8 MiB or 65,536 entries applied, or every 2 to 3 minutes:
// on a node of 15,000 idle members that was a third of the heap the cluster
// added (docs/BENCHMARKS.md, "Signaling cluster"). An embedded node
// therefore compacts the logs of its memory-storage streams itself once
// their writes settle.
const (
	// compactMinEntries is the log length below which a log is left alone.
	compactMinEntries = 256
	// compactMaxBytes is the log size at which it is compacted even while
	// the writes go on (a long run of joins).
	compactMaxBytes = 1 << 20
)

// compactLoop checks the Raft logs of the node's memory-storage streams
// every interval (compactLogs) until n.done is closed.
func (n *EmbeddedNode) compactLoop(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	last := map[string]uint64{}
	for {
		select {
		case <-n.done:
			return
		case <-t.C:
			n.compactLogs(last)
		}
	}
}

// compactLogs installs a snapshot of each memory-storage stream this node
// holds a replica of whose Raft log has at least compactMinEntries entries
// and either did not grow since the last check (last: log length by
// group) or reached compactMaxBytes, while its group has a leader, is not
// catching up and has applied all it committed.
func (n *EmbeddedNode) compactLogs(last map[string]uint64) {
	accounts, err := n.srv.Jsz(&server.JSzOptions{Accounts: true, Streams: true, Config: true, RaftGroups: true})
	if err != nil || accounts == nil {
		return
	}
	seen := map[string]bool{}
	for _, acc := range accounts.AccountDetails {
		for _, sd := range acc.Streams {
			if sd.RaftGroup == "" || sd.Config == nil || sd.Config.Storage != server.MemoryStorage {
				continue
			}
			group := sd.RaftGroup
			seen[group] = true
			status := n.srv.Raftz(&server.RaftzOptions{AccountFilter: acc.Name, GroupFilter: group})
			if status == nil {
				continue
			}
			g, ok := (*status)[acc.Name][group]
			if !ok {
				continue
			}
			entries, grew := g.WAL.Msgs, g.WAL.Msgs > last[group]
			last[group] = entries
			if entries < compactMinEntries || grew && g.WAL.Bytes < compactMaxBytes ||
				g.Leader == "" || g.CatchingUp || g.Applied < g.Committed {
				continue
			}
			if err := n.srv.JetStreamSnapshotStream(acc.Name, sd.Name); err != nil {
				n.log.Debug("compacting a stream's raft log failed", "stream", sd.Name, "entries", entries, "err", err)
				continue
			}
			last[group] = 0
			n.log.Debug("compacted a stream's raft log", "stream", sd.Name, "entries", entries, "bytes", g.WAL.Bytes)
		}
	}
	for g := range last {
		if !seen[g] {
			delete(last, g)
		}
	}
}
