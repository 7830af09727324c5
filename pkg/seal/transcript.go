package seal

import (
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"
)

// Protocol constants.
const (
	// Version is the highest seal hello version this package speaks: 2, a handshake that
	// may continue a session (continuity.go). A handshake without retained secrets sends a
	// VersionFirst (1) hello, byte for byte what version 1 peers send and accept.
	Version = 2
	// DomainTag is the first field of the transcript hash and the prefix
	// of every derivation label.
	DomainTag = "vtpeer/seal/v1"

	// HKDF info labels; each output is 32 bytes.
	infoOffererToAnswerer = DomainTag + " key offerer->answerer"
	infoAnswererToOfferer = DomainTag + " key answerer->offerer"
	infoSAS               = DomainTag + " sas"
	commitLabel           = DomainTag + " commit"

	// MaxRoomSize bounds Config.Room in bytes.
	MaxRoomSize = 1024
)

// writeField writes len(b) as a 4-byte big-endian integer, then b.
func writeField(h hash.Hash, b []byte) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(b)))
	h.Write(n[:])
	h.Write(b)
}

// Commitment returns the offerer's commitment to its X25519 public key:
// SHA-256(u32be(len(label)) || label || u32be(32) || key) with label
// "vtpeer/seal/v1 commit".
func Commitment(offererKey []byte) []byte {
	h := sha256.New()
	writeField(h, []byte(commitLabel))
	writeField(h, offererKey)
	return h.Sum(nil)
}

// TranscriptHash returns TH = SHA-256 over six length-prefixed fields
// (each a 4-byte big-endian length then the bytes) in this order:
// DomainTag, room, offerer key, offerer fingerprint, answerer key,
// answerer fingerprint. An absent fingerprint is a zero-length field.
func TranscriptHash(room string, offererKey, offererFP, answererKey, answererFP []byte) []byte {
	h := sha256.New()
	writeField(h, []byte(DomainTag))
	writeField(h, []byte(room))
	writeField(h, offererKey)
	writeField(h, offererFP)
	writeField(h, answererKey)
	writeField(h, answererFP)
	return h.Sum(nil)
}

// keys holds the HKDF outputs. Callers zero it with wipe once used.
type keys struct {
	offererToAnswerer []byte
	answererToOfferer []byte
	sas               []byte
	continuity        []byte // the next continuity secret
	close             []byte // relay close MAC key
	exporter          []byte // exporter secret (export.go)
}

// deriveKeys runs HKDF-SHA256 with ikm = the X25519 shared secret and
// salt = TH (version 1), or ikm = shared secret || continuity secret (empty
// when the handshake continues none) and salt = TH v2 (version 2), and
// expands five 32-byte outputs with distinct info labels.
func deriveKeys(version int, shared, continuity, th []byte) (keys, error) {
	var k keys
	ikm := shared
	if version != VersionFirst {
		ikm = append(append(make([]byte, 0, len(shared)+len(continuity)), shared...), continuity...)
		defer wipe(ikm)
	}
	prk, err := hkdf.Extract(sha256.New, ikm, th)
	if err != nil {
		return k, fmt.Errorf("hkdf extract: %w", err)
	}
	defer wipe(prk)
	labels := [3]string{infoOffererToAnswerer, infoAnswererToOfferer, infoSAS}
	if version != VersionFirst {
		labels = [3]string{info2OffererAnswerer, info2AnswererOfferer, info2SAS}
	}
	for _, out := range []struct {
		dst  *[]byte
		info string
	}{
		{&k.offererToAnswerer, labels[0]},
		{&k.answererToOfferer, labels[1]},
		{&k.sas, labels[2]},
		{&k.continuity, infoContinuity},
		{&k.close, infoClose},
		{&k.exporter, infoExporter},
	} {
		if *out.dst, err = hkdf.Expand(sha256.New, prk, out.info, 32); err != nil {
			k.wipe()
			return keys{}, fmt.Errorf("hkdf expand: %w", err)
		}
	}
	return k, nil
}

func (k *keys) wipe() {
	wipe(k.offererToAnswerer)
	wipe(k.answererToOfferer)
	wipe(k.sas)
	wipe(k.continuity)
	wipe(k.close)
	wipe(k.exporter)
}

// sasDigits returns the 6-digit SAS: the first 8 bytes of the SAS key as
// a big-endian uint64, modulo 10^6, zero-padded. The modulo bias is below
// 2^-44 per value.
func sasDigits(sasKey []byte) string {
	v := binary.BigEndian.Uint64(sasKey[:8]) % 1_000_000
	return fmt.Sprintf("%06d", v)
}

// wipe overwrites b with zeros.
func wipe(b []byte) { clear(b) }
