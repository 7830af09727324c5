// Package app is vtpeer's application protocol: what two users' programs
// say to each other inside the sealed sessions that pkg/peer keeps with the
// members of a room. A Room is this user's application in one room:
//
//   - message kinds (KindChat, KindTip, KindQueuedTip, KindReceipt; any other
//     kind is passed on as Other), their bodies and decoders;
//   - chat: Chat sends, Chat events deliver (exactly once per message id
//     across restarts for messages kept for offline delivery);
//   - tips: SendTip sends a signed tip to the one peer ChooseTipTarget picks;
//     a received tip is judged by the tips.Desk (one verdict, one receipt),
//     its receipt goes back over the same session, and receipts for our
//     tips arrive as Receipt events; a Room without a desk answers every
//     tip with a refusal receipt (tips.CodeNotReceiving);
//   - offline delivery: the Postbox keeps an outbox of messages for absent
//     accounts (QueueChat, QueueTip), the contacts' mail keys and the seen
//     ids; an absent addressee's messages are sealed to its mail key and
//     deposited in the server's mailbox through a Mailer; mail the server
//     kept for us arrives on Options.Mail.
//
// A Room is the only reader of its Node's events: it decodes peer.Message
// into its own events and passes the Node's other events on (Event). It
// declares the small interfaces it needs (Node, Mailer), the way pkg/peer
// declares Signaler: the CLI wires a signal.Client to both.
//
// How a tip travels through it:
//
//	tipper's Room                                   recipient's Room
//	ChooseTipTarget(peers, to) → SendTip ──"tip"──►  Desk.Judge (verify, replay
//	                                                 store, forward queue)
//	Receipt event  ◄──────────────────"receipt"───  signed receipt
//
// Words used across vtpeer, each for one thing:
//
//   - session: the sealed, end-to-end session with one peer (its SAS, keys
//     and reliable, ordered delivery); pkg/seal makes its cryptography and
//     pkg/peer keeps it across transports. A Room is not a session: it is
//     the application above all of a room's sessions.
//   - outbox: messages waiting for an absent recipient until it
//     acknowledges them (mailbox.Outbox, kept in the Postbox). The tips
//     forwarder's queue of accepted tips for the orchestrator is the
//     forward queue; what pkg/peer keeps unacknowledged per peer is its
//     resend queue.
//   - postbox: this user's whole offline-delivery state (outbox, seen ids,
//     contacts, mail key); mailbox: the server's store of sealed mail
//     (mailbox.Box).
package app
