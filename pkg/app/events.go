package app

import (
	"time"

	"github.com/verytippers/vtpeer/pkg/tips"
)

// Event is what a Room reports on Events: one of this package's types
// (Chat, Tip, Receipt, Delivered, Deposited, DepositSkipped, Problem, Other)
// or a peer.Event passed on unchanged (peer.PeerConnected, peer.PathChanged,
// peer.PeerLeft, peer.SASChanged, peer.HandshakeFailed, peer.Undelivered,
// peer.Error); peer.Message never appears: the Room decodes it.
type Event any

// Chat is a chat message from a peer, or mail from the server's mailbox
// (Mail set).
type Chat struct {
	Peer   string    // peer id, or "mailbox"
	From   string    // mail: the account that signed it
	Text   string    // the text as sent (UTF-8)
	Mail   bool      // came from the server's mailbox
	SentAt time.Time // mail: its signed send time
}

// Tip is a tip a peer sent us, judged by the desk (or refused with
// tips.CodeNotReceiving by a Room without one); its receipt was sent back
// (or, for mail, kept in the postbox for the tipper). A second copy of a
// queued tip accepted before is not reported.
type Tip struct {
	Peer    string // peer id, or "mailbox"
	From    string // mail: the account that signed the mail
	Queued  bool   // it came as KindQueuedTip
	Verdict tips.Verdict
}

// Receipt is a receipt for a tip we sent. A second receipt of a tip whose
// queued copies met the recipient twice (tips.CodeAlreadyAccepted) is not
// reported.
type Receipt struct {
	Peer        string
	MessageHash string // 0x-hex
	Accepted    bool
	Code        string
	Reason      string
	Forwarded   string
	Signer      string // the account that signed the receipt, "" when unsigned
	SignerValid bool   // the signature verified
}

// Delivered reports outbox items that their addressee acknowledged.
type Delivered struct {
	To    string // the account address
	Count int
	// Done: these were the last of the messages queued with QueueChat.
	Done bool
}

// Deposited reports that the server confirmed every mail deposited for the
// QueueChat addressee, or (Mailed 0) that nothing was left to mail when
// Start found the addressee absent.
type Deposited struct {
	To     string
	Count  int // messages still waiting for the addressee (in the outbox and as mail)
	Mailed int // mails the server confirmed
}

// DepositSkipped reports QueueChat messages that were not mailed: the
// addressee never proved a mail key (NoKey), or Stale items are older than
// seal.MailMaxAge, which the recipient would refuse as mail. They wait in
// the outbox for a direct meeting.
type DepositSkipped struct {
	To    string
	NoKey bool
	Stale int
}

// Problem is something that arrived and could not be used, or a send that
// failed; Code names it: "bad_message", "bad_receipt", "bad_mail",
// "mail_too_old", "mail_from_future", "mail" (a deposit failed).
type Problem struct {
	Peer string // peer id, "mailbox" or ""
	From string // mail: the claimed signer
	Code string
	Err  error
}

// Other is a message of a kind this package does not know, passed on for
// extensions; the Room neither answers nor acknowledges it beyond the
// transport's ack.
type Other struct {
	Peer string
	Kind string
	Body []byte
}

// Problem codes.
const (
	CodeBadMessage     = "bad_message"
	CodeBadReceipt     = "bad_receipt"
	CodeBadMail        = "bad_mail"
	CodeMailTooOld     = "mail_too_old"
	CodeMailFromFuture = "mail_from_future"
	CodeMail           = "mail"
)
