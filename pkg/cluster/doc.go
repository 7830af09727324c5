// Package cluster shares the rooms of several signaling servers over NATS:
// it is the signal.Cluster that lets `vtpeer serve` run as a cluster.
//
// Each node is a NATS client (its own embedded NATS server, see StartNode,
// or an external NATS cluster). What it keeps:
//
//   - room membership in the JetStream key-value bucket "<prefix>-rooms"
//     (memory storage, Replicas copies): one key "r.<hex SHA-256 of the
//     room, 32 digits>" per room, whose value lists the members with the
//     node that holds each one (binary, roomvalue.go; the JSON of older
//     nodes is still read). Joins and leaves are compare-and-set
//     updates of that key (Update at the revision read), so the member cap
//     and peer ids hold over all nodes with no race. Every node watches the
//     whole bucket and tells its signal.Server each new state;
//   - frames for members another node holds go on core NATS to
//     "<prefix>.n.<node id>", the subject of that node, in the envelope of
//     envelope.go;
//   - an embedded node compacts the Raft logs of the memory-storage
//     streams it holds (the room bucket) once their writes settle
//     (compact.go);
//   - presence: each node publishes on "<prefix>.hb" every Heartbeat; the
//     members of a node not heard for DeadAfter are removed by the others
//     (compare-and-set too), which tells every room peer-left.
//
// docs/SCALING.md describes the design, its failure behaviour and its
// limits.
package cluster
