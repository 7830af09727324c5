package seal

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"fmt"
	"sync"
)

// Frame layout and limits.
const (
	// FrameVersion is the first byte of every sealed frame.
	FrameVersion = 1
	// HeaderSize is version (1) + big-endian sequence number (8).
	HeaderSize = 9
	// TagSize is the AES-GCM tag size.
	TagSize = 16
	// Overhead is the number of bytes Seal adds to a plaintext.
	Overhead = HeaderSize + TagSize

	// MaxFrames is the number of frames one direction may seal; Seal
	// returns ErrExhausted at this point, far before the 64-bit counter
	// (and the 96-bit nonce) could wrap.
	MaxFrames = 1 << 32
	// MaxBytes is the plaintext volume one direction may seal (256 GiB,
	// 2^34 AES blocks), which keeps AES-GCM's confidentiality bound
	// below 2^-60.
	MaxBytes = 1 << 38
)

// Session seals and opens application frames after a handshake. One
// goroutine may Seal while another Opens. Seal is safe for concurrent use,
// but frames must reach the peer in the order Seal returned them, so a
// caller with several senders must serialize Seal and send together.
type Session struct {
	role Role
	room string
	th   []byte
	sas  string

	version   int
	continued bool
	contIndex int
	next      []byte // continuity secret for the next handshake
	closeKey  []byte // relay close MAC key
	exporter  []byte // exporter secret (export.go)

	send direction
	recv direction
}

type direction struct {
	mu     sync.Mutex
	aead   cipher.AEAD // nil once closed
	seq    uint64      // next sequence number
	bytes  uint64      // plaintext bytes sealed (send only)
	failed bool        // recv: a frame failed to open
	// scratch space (guarded by mu) so that Seal and Open do not allocate
	// the header and nonce on every call.
	hdr   [HeaderSize]byte
	nonce [12]byte
}

// setSeq fills d.hdr and d.nonce for sequence number seq.
func (d *direction) setSeq(seq uint64) {
	d.hdr[0] = FrameVersion
	binary.BigEndian.PutUint64(d.hdr[1:], seq)
	binary.BigEndian.PutUint64(d.nonce[4:], seq)
}

func newSession(role Role, room string, th []byte, k keys) (*Session, error) {
	sendKey, recvKey := k.offererToAnswerer, k.answererToOfferer
	if role == RoleAnswerer {
		sendKey, recvKey = recvKey, sendKey
	}
	s := &Session{role: role, room: room, th: bytes.Clone(th), sas: sasDigits(k.sas),
		version: VersionFirst, contIndex: -1, next: bytes.Clone(k.continuity), closeKey: bytes.Clone(k.close),
		exporter: bytes.Clone(k.exporter)}
	var err error
	if s.send.aead, err = newGCM(sendKey); err != nil {
		return nil, err
	}
	if s.recv.aead, err = newGCM(recvKey); err != nil {
		return nil, err
	}
	return s, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		return nil, fmt.Errorf("gcm: %w", err)
	}
	return g, nil
}

// Role returns this side's role.
func (s *Session) Role() Role { return s.role }

// Room returns the room bound into the transcript.
func (s *Session) Room() string { return s.room }

// TranscriptHash returns a copy of TH (32 bytes).
func (s *Session) TranscriptHash() []byte { return bytes.Clone(s.th) }

// SAS returns the 6-digit short authentication string, e.g. "042917".
// Both users must see the same six digits; if they differ, someone is in
// the middle.
func (s *Session) SAS() string { return s.sas }

// Overhead returns the number of bytes Seal adds to a plaintext
// (the Overhead constant): a frame of a plaintext of n bytes is n+25 bytes.
func (s *Session) Overhead() int { return Overhead }

// Seal encrypts plaintext into the next frame of this direction:
// version(1) | seq(8, big-endian) | AES-256-GCM(ciphertext || tag), with
// nonce = 4 zero bytes || seq and AAD = the 9-byte header.
func (s *Session) Seal(plaintext []byte) ([]byte, error) {
	d := &s.send
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.aead == nil {
		return nil, ErrClosed
	}
	if d.seq >= MaxFrames || uint64(len(plaintext)) > MaxBytes-d.bytes {
		return nil, ErrExhausted
	}
	d.setSeq(d.seq)
	out := make([]byte, HeaderSize, HeaderSize+len(plaintext)+TagSize)
	copy(out, d.hdr[:])
	out = d.aead.Seal(out, d.nonce[:], plaintext, d.hdr[:])
	d.seq++
	d.bytes += uint64(len(plaintext))
	return out, nil
}

// Open decrypts frame, which must be exactly the next frame the peer
// sealed. Any failure (wrong version, replayed, reordered or skipped
// sequence number, truncation, a flipped bit) returns ErrAuth and no
// plaintext, and every later Open fails too: close the connection.
func (s *Session) Open(frame []byte) ([]byte, error) {
	d := &s.recv
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.aead == nil {
		return nil, ErrClosed
	}
	if d.failed {
		return nil, ErrAuth
	}
	if len(frame) < Overhead || frame[0] != FrameVersion || d.seq >= MaxFrames ||
		binary.BigEndian.Uint64(frame[1:HeaderSize]) != d.seq {
		d.failed = true
		return nil, ErrAuth
	}
	d.setSeq(d.seq)
	pt, err := d.aead.Open(nil, d.nonce[:], frame[HeaderSize:], d.hdr[:])
	if err != nil {
		d.failed = true
		return nil, ErrAuth
	}
	d.seq++
	return pt, nil
}

// Close drops the session's keys; later Seal and Open return ErrClosed.
// Go's crypto/aes keeps its expanded key in memory this package cannot
// reach, so Close releases it to the garbage collector but cannot zero it.
//
// The continuity secret and the close key are zeroed: take ContinuitySecret before Close, and
// do not call CloseTag or VerifyCloseTag after it (they would use a zero key).
func (s *Session) Close() error {
	for _, d := range []*direction{&s.send, &s.recv} {
		d.mu.Lock()
		d.aead = nil
		d.mu.Unlock()
	}
	wipe(s.next)
	wipe(s.closeKey)
	wipe(s.exporter)
	return nil
}
