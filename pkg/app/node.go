package app

import (
	"context"

	"github.com/verytippers/vtpeer/pkg/peer"
	"github.com/verytippers/vtpeer/pkg/tips"
)

// Node is what a Room needs of its peer.Node: the sealed sessions with the
// room's peers. *peer.Node implements it; the Room is the only reader of its
// Events.
type Node interface {
	Events() <-chan peer.Event
	Send(ctx context.Context, peerID, kind string, body []byte) error
	WaitAcked(ctx context.Context, peerID string) error
	Flush(ctx context.Context) error
	Peers() []peer.PeerInfo
	Retry(peerID string) error
	// OpenChannel and AcceptChannel carry a file transfer on a DataChannel of its own
	// (peer.Node.OpenChannel); OpenChannel fails with peer.ErrNoChannel over the server relay.
	OpenChannel(ctx context.Context, peerID, label string) (*peer.Channel, error)
	AcceptChannel(ctx context.Context, peerID, label string) (*peer.Channel, error)
}

// Mailer deposits a sealed mail blob in the signaling server's mailbox of
// the owner of recipientKey (a static X25519 key); the server's confirmation
// arrives later on Options.Mailed. The CLI adapts signal.Client to it.
type Mailer interface {
	Mail(ctx context.Context, recipientKey, blob []byte) error
}

// Identity adapts an account to peer.Identity (and peer.StaticKeyer when
// staticKey is set): the handshake identity is signed with EIP-191
// personal_sign, and staticKey (the postbox's PublicKey) is announced for
// offline mail.
func Identity(s tips.Signer, staticKey []byte) peer.Identity {
	return accountIdentity{s: s, static: staticKey}
}

type accountIdentity struct {
	s      tips.Signer
	static []byte
}

// StaticKey is the static X25519 key announced in the signed identity.
func (a accountIdentity) StaticKey() []byte { return a.static }

// Address returns the checksummed account address.
func (a accountIdentity) Address() string { return a.s.Address().Hex() }

// SignHandshake signs the handshake identity message with EIP-191 personal_sign.
func (a accountIdentity) SignHandshake(msg []byte) ([]byte, error) {
	return tips.PersonalSign(a.s, msg)
}

// VerifyIdentity recovers the account that signed a handshake identity
// message or mail (peer.VerifyIdentityFunc, seal.VerifyMail).
func VerifyIdentity(msg, sig []byte) (string, error) {
	addr, err := tips.RecoverPersonal(msg, sig)
	if err != nil {
		return "", err
	}
	return addr.Hex(), nil
}

var (
	_ peer.VerifyIdentityFunc = VerifyIdentity
	_ Node                    = (*peer.Node)(nil)
)
