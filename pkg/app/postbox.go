package app

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/verytippers/vtpeer/internal/boltutil"
	"github.com/verytippers/vtpeer/pkg/mailbox"
	"github.com/verytippers/vtpeer/pkg/seal"
	"github.com/verytippers/vtpeer/pkg/tips"
)

// Postbox is a user's offline-delivery state in a directory (vtpeer's
// $VTPEER_HOME):
//
//   - postbox.db: the outbox (mailbox.Outbox) of messages for accounts that
//     are not connected, kept until the recipient acknowledges them; the ids
//     of messages already delivered to this user (exactly once, across
//     restarts); and the contacts: account address → static X25519 key,
//     learned from signed handshake identities.
//   - static.key: this user's static X25519 key (0600), announced inside the
//     signed identity; mail for this user is sealed to it (HPKE) and
//     deposited on the server when the sender cannot wait.
//
// One process at a time may open it. It is safe for concurrent use.
type Postbox struct {
	db     *bolt.DB
	out    *mailbox.Outbox
	static *ecdh.PrivateKey
}

var bucketContacts = []byte("vtpeer.contacts")

// SeenTTL is how long delivered message ids are remembered: longer than any
// mail is accepted (seal.MailMaxAge + seal.MailMaxSkew), so an old blob is
// never delivered twice.
const SeenTTL = 30 * 24 * time.Hour

// OpenPostbox opens (or creates) the postbox in dir. A postbox another
// process holds fails with ErrPostboxInUse.
func OpenPostbox(dir string) (*Postbox, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("postbox: %w", err)
	}
	static, err := loadStaticKey(filepath.Join(dir, "static.key"))
	if err != nil {
		return nil, err
	}
	db, err := boltutil.Open(filepath.Join(dir, "postbox.db"), time.Second, bucketContacts)
	if errors.Is(err, boltutil.ErrLocked) {
		return nil, fmt.Errorf("%w (%s)", ErrPostboxInUse, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("postbox: %w", err)
	}
	out, err := mailbox.NewOutbox(db, nil)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	if _, err := out.PruneSeen(time.Now().Add(-SeenTTL)); err != nil {
		_ = db.Close()
		return nil, err
	}
	return &Postbox{db: db, out: out, static: static}, nil
}

// loadStaticKey reads the static key, creating it on first use. The file
// must be readable by its owner only: a key file that the group or others
// may read is refused (anyone who read it can open this user's mail), with
// the command that fixes it. A new key is created exclusively (O_EXCL,
// 0600), so two processes starting at once never overwrite each other's.
func loadStaticKey(path string) (*ecdh.PrivateKey, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return createStaticKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("read static key: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read static key: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("static key %s is not a regular file", path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("static key %s is readable by others (mode %04o): anyone who read it can open your mail; "+
			"if nobody else could have, run: chmod 600 %s — otherwise remove it to make a new one", path, perm, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, 1<<10))
	if err != nil {
		return nil, fmt.Errorf("read static key: %w", err)
	}
	raw, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err == nil {
		var k *ecdh.PrivateKey
		if k, err = ecdh.X25519().NewPrivateKey(raw); err == nil {
			return k, nil
		}
	}
	return nil, fmt.Errorf("static key %s is damaged (remove it to make a new one; mail sealed to the old one is lost)", path)
}

// createStaticKey writes a new static key to path, which must not exist.
// The key is written and synced under a temporary name, then hard-linked
// into place, which fails if path exists: readers never see a half-written
// key, and if another process created one first, that key is used.
func createStaticKey(path string) (*ecdh.PrivateKey, error) {
	k, err := seal.GenerateStaticKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".static.key-*") // mode 0600
	if err != nil {
		return nil, fmt.Errorf("write static key: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, err = f.WriteString(hex.EncodeToString(k.Bytes()) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Link(tmp, path)
	}
	if errors.Is(err, os.ErrExist) {
		return loadStaticKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("write static key: %w", err)
	}
	return k, nil
}

// PublicKey is this user's static public key.
func (p *Postbox) PublicKey() []byte { return p.static.PublicKey().Bytes() }

// MailboxID is where the server keeps mail for this user.
func (p *Postbox) MailboxID() string { return seal.MailboxID(p.PublicKey()) }

// Remember records an account's static key from its signed identity.
func (p *Postbox) Remember(address string, staticKey []byte) error {
	if address == "" || len(staticKey) != seal.KeySize {
		return nil
	}
	return boltutil.Update(p.db, mailbox.ErrClosed, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketContacts).Put([]byte(strings.ToLower(address)), staticKey)
	})
}

// ContactKey returns an account's static key, or nil when never seen.
func (p *Postbox) ContactKey(address string) []byte {
	var k []byte
	_ = boltutil.View(p.db, mailbox.ErrClosed, func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketContacts).Get([]byte(strings.ToLower(address))); v != nil {
			k = append([]byte(nil), v...)
		}
		return nil
	})
	return k
}

// Queue keeps a message for an account until it is acknowledged.
func (p *Postbox) Queue(address string, it mailbox.Item) error {
	return p.out.Add(strings.ToLower(address), it)
}

// Pending returns the items queued for an account, in the order queued.
func (p *Postbox) Pending(address string) ([]mailbox.Item, error) {
	return p.out.Pending(strings.ToLower(address))
}

// Done removes an item the account acknowledged.
func (p *Postbox) Done(address, id string) error { return p.out.Done(strings.ToLower(address), id) }

// Fresh records that message id from sender was delivered; false means it
// was delivered before and must be dropped.
func (p *Postbox) Fresh(sender, id string) (bool, error) {
	return p.out.MarkSeen(strings.ToLower(sender)+"/"+id, time.Now())
}

// SealMail seals one queued item as mail to recipient's static key, signed
// by signer.
func (p *Postbox) SealMail(room string, signer tips.Signer, recipientKey []byte, it mailbox.Item) ([]byte, error) {
	sent := it.Added
	if sent.IsZero() {
		sent = time.Now()
	}
	c := seal.MailContent{ID: it.ID, From: signer.Address().Hex(), Kind: it.Kind, Body: it.Body, SentAt: sent.UnixMilli()}
	c, err := seal.SignMail(room, recipientKey, c, func(msg []byte) ([]byte, error) { return tips.PersonalSign(signer, msg) })
	if err != nil {
		return nil, err
	}
	pt, err := c.Marshal()
	if err != nil {
		return nil, err
	}
	return seal.SealMail(recipientKey, room, pt)
}

// OpenMail opens mail for this user and checks who signed it.
func (p *Postbox) OpenMail(room string, blob []byte) (seal.MailContent, error) {
	pt, err := seal.OpenMail(p.static, room, blob)
	if err != nil {
		return seal.MailContent{}, err
	}
	c, err := seal.ParseMailContent(pt)
	if err != nil {
		return seal.MailContent{}, err
	}
	if _, err := seal.VerifyMail(room, p.PublicKey(), c, VerifyIdentity); err != nil {
		return seal.MailContent{}, err
	}
	return c, nil
}

// Close closes the postbox file.
func (p *Postbox) Close() error { return p.db.Close() }

// NewMessageID is a random id (96 bits, hex) for one application message.
func NewMessageID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
