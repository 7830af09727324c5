// Package boltutil holds the bbolt (go.etcd.io/bbolt) helpers that vtpeer's
// stores share, written once: opening a file with a lock timeout, Update
// and View that report a closed file with the caller's own sentinel, and
// buckets of time-stamped keys (a value is the 8-byte big-endian Unix
// nanosecond time the key was stored) that can be pruned before a cutoff —
// the replay records of pkg/tips and the seen ids of pkg/mailbox's outbox
// (SeenSet).
//
// It is internal: the stores' own APIs (tips.Store, mailbox.Outbox,
// mailbox.Box, app's postbox) are the interface.
package boltutil
