package seal

import (
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// infoExporter labels the session's exporter secret:
// HKDF-Expand(PRK, "vtpeer/seal exporter", 32), the sixth output of the key
// schedule of either version (the PRK already separates v1 from v2).
const infoExporter = "vtpeer/seal exporter"

// MaxExportSize bounds the length ExportKey derives.
const MaxExportSize = 64

// ExportKey derives n bytes (1..MaxExportSize) that both ends of this session
// compute alike and no one else can, for a protocol that runs beside the
// session's frames (for example a file transfer on its own DataChannel):
//
//	HKDF-Expand(SHA-256, prk = exporter secret,
//	            info = u32be(len(label)) || label || u32be(len(context)) || context, n)
//
// The exporter secret is HKDF-Expand(PRK, "vtpeer/seal exporter", 32) of the
// handshake's key schedule, independent of the frame keys. Distinct labels
// or contexts give independent keys; the caller must use each derived key
// under the nonce rules of its own protocol. It fails after Close.
func (s *Session) ExportKey(label string, context []byte, n int) ([]byte, error) {
	if n <= 0 || n > MaxExportSize {
		return nil, fmt.Errorf("%w: export size %d not in 1..%d", ErrConfig, n, MaxExportSize)
	}
	s.send.mu.Lock()
	closed := s.send.aead == nil
	s.send.mu.Unlock()
	if closed || len(s.exporter) == 0 {
		return nil, ErrClosed
	}
	info := make([]byte, 0, 8+len(label)+len(context))
	info = binary.BigEndian.AppendUint32(info, uint32(len(label)))
	info = append(info, label...)
	info = binary.BigEndian.AppendUint32(info, uint32(len(context)))
	info = append(info, context...)
	out, err := hkdf.Expand(sha256.New, s.exporter, string(info), n)
	if err != nil {
		return nil, fmt.Errorf("seal: export key: %w", err)
	}
	return out, nil
}
