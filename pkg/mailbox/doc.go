// Package mailbox holds vtpeer's offline delivery stores, both persisted in
// bbolt (go.etcd.io/bbolt):
//
//   - Box, on the signaling server: a bounded mailbox per (room, mailbox
//     id) for mail sealed with seal.SealMail to a peer that is not
//     connected. It stores opaque blobs it cannot read, with a TTL and
//     limits per message, per mailbox and on the number of mailboxes;
//     Take hands them over in arrival order and deletes them.
//   - Outbox, on each peer: the sender's persistent queue of messages per
//     recipient (an account address or a mailbox id) until the recipient
//     confirms them, and the receiver's set of message ids already seen.
//
// Exactly-once delivery across restarts of either side:
//
//	sender                                   receiver
//	Outbox.Add(to, {ID, Kind, Body})  ─┐
//	  … peer connected: send each Pending item (or, when leaving,
//	  seal it and Put it in the server's Box)
//	                                   └──►  MarkSeen(from+"/"+ID) == true → hand to app
//	                                         MarkSeen == false → duplicate: drop (still ack)
//	Outbox.Done(to, ID)  ◄──────────────────  ack
//
// The sender resends until acknowledged (at least once); the receiver's
// seen set, which survives restarts, drops the duplicates. The server's Box
// adds no guarantee of its own: Take deletes before the caller delivers, so
// a crash in between loses that copy, and the sender's outbox (or a resend)
// covers it.
//
// Words: the outbox (this package's Outbox) is the only store vtpeer calls
// an outbox: messages waiting for an absent recipient. pkg/app's Postbox
// keeps one, beside the contacts' mail keys; the tips forwarder's queue is
// the forward queue.
//
// Neither store reads what it holds; mailbox ids are checked with
// seal.ValidMailboxID. See docs/SECURITY.md, "Offline mail".
package mailbox
