package app

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
)

// File transfer message kinds (docs/PROTOCOL.md, "File transfer"). All but
// KindFileChunk are JSON bodies on the sealed session.
const (
	KindFileOffer  = "file-offer"  // sender → receiver: the manifest (FileOffer)
	KindFileAnswer = "file-answer" // receiver → sender: accepted (with the chunks it has) or refused
	KindFileStart  = "file-start"  // sender → receiver: chunks follow, on a channel or on the session
	KindFileChunk  = "file-chunk"  // sender → receiver over the server relay: one chunk record
	KindFileResult = "file-result" // receiver → sender: every file verified and in place, or why not
	KindFileCancel = "file-cancel" // either side: the transfer stops (it may be offered again)
)

// Transfer limits and constants.
const (
	// ChunkSize is the plaintext size of every chunk but a file's last: it
	// fits the 40 KiB messages that a session that may run over the relay
	// accepts on any path.
	ChunkSize = 32 << 10
	// MaxFiles bounds the files of one manifest.
	MaxFiles = 10000
	// MaxPathLen bounds a manifest path in bytes.
	MaxPathLen = 1024
	// MaxFileSize is the protocol's bound on one file (1 TiB); the receiver
	// sets its own, lower limit.
	MaxFileSize = 1 << 40
	// ChunkHeaderSize is the size of a chunk record's header.
	ChunkHeaderSize = 1 + 1 + IDSize + 4 + 8
	// IDSize is the size of a transfer id in bytes (hex in JSON).
	IDSize = 16
	// chunkKeyLabel is the exporter label of a transfer's chunk key.
	chunkKeyLabel = "vtpeer-file/v1 chunk key"
	// ChannelPrefix starts the label of a transfer's DataChannel: ChannelPrefix + hex id.
	ChannelPrefix = "vtpeer-file/"
	chunkVersion  = 1
	chunkSealed   = 1 // on a transfer's DataChannel: AES-256-GCM under the chunk key
	chunkPlain    = 2 // on the session (server relay): the session's seal protects it
)

// FileEntry is one file of a manifest: its path relative to the receive
// directory ("/"-separated), its size in bytes and its SHA-256 (hex).
type FileEntry struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Chunks is the number of chunks of the file (0 for an empty file).
func (f FileEntry) Chunks() uint64 { return uint64((f.Size + ChunkSize - 1) / ChunkSize) }

// chunkLen is the plaintext length of chunk i.
func (f FileEntry) chunkLen(i uint64) int {
	if rest := f.Size - int64(i)*ChunkSize; rest < ChunkSize {
		return int(rest)
	}
	return ChunkSize
}

// FileOffer is the manifest: the body of KindFileOffer.
type FileOffer struct {
	ID    string      `json:"id"` // TransferID(sender, files), hex
	Files []FileEntry `json:"files"`
}

// Total is the sum of the files' sizes.
func (o FileOffer) Total() int64 {
	var t int64
	for _, f := range o.Files {
		t += f.Size
	}
	return t
}

// FileAnswer is the body of KindFileAnswer. Have lists, when accepted, the
// chunks the receiver holds verified from an earlier attempt, as half-open
// ranges [file, first chunk, end chunk): only the others are sent.
type FileAnswer struct {
	ID     string      `json:"id"`
	Accept bool        `json:"accept"`
	Code   string      `json:"code,omitempty"`
	Reason string      `json:"reason,omitempty"`
	Have   [][3]uint64 `json:"have,omitempty"`
}

// FileStart is the body of KindFileStart: chunks follow on the DataChannel
// labelled Channel (sealed under a key derived from Salt), or on the
// session as KindFileChunk messages when Channel is empty.
type FileStart struct {
	ID      string `json:"id"`
	Channel string `json:"channel,omitempty"`
	Salt    []byte `json:"salt,omitempty"` // 16 random bytes, base64
}

// FileResult is the body of KindFileResult and KindFileCancel.
type FileResult struct {
	ID     string `json:"id"`
	OK     bool   `json:"ok"`
	Code   string `json:"code,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// TransferID is the transfer's id: the first 16 bytes of
// SHA-256("vtpeer-file/v1" || 0 || lower-case sender address || 0 || for each
// file: u32be(len(path)) || path || u64be(size) || sha256). The same files
// from the same account have the same id: that is what resume keys on.
func TransferID(sender string, files []FileEntry) string {
	h := sha256.New()
	h.Write([]byte("vtpeer-file/v1\x00" + strings.ToLower(sender) + "\x00"))
	for _, f := range files {
		h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(f.Path))))
		h.Write([]byte(f.Path))
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(f.Size)))
		sum, _ := hex.DecodeString(f.SHA256)
		h.Write(sum)
	}
	return hex.EncodeToString(h.Sum(nil)[:IDSize])
}

// DecodeFileOffer decodes and checks a manifest from sender (its proven
// address, "" when anonymous): the id must be TransferID(sender, files),
// every path must be safe (CheckPath) and unique, sizes within MaxFileSize.
func DecodeFileOffer(sender string, body []byte) (FileOffer, error) {
	var o FileOffer
	if err := json.Unmarshal(body, &o); err != nil {
		return FileOffer{}, fmt.Errorf("%w: %w", ErrBadTransfer, err)
	}
	if len(o.Files) == 0 || len(o.Files) > MaxFiles {
		return FileOffer{}, fmt.Errorf("%w: %d files (1..%d)", ErrBadTransfer, len(o.Files), MaxFiles)
	}
	files := make(map[string]bool, len(o.Files))
	for i, f := range o.Files {
		if err := CheckPath(f.Path); err != nil {
			return FileOffer{}, fmt.Errorf("file %d: %w", i, err)
		}
		if f.Size < 0 || f.Size > MaxFileSize {
			return FileOffer{}, fmt.Errorf("%w: file %d: size %d", ErrBadTransfer, i, f.Size)
		}
		if sum, err := hex.DecodeString(f.SHA256); err != nil || len(sum) != sha256.Size || f.SHA256 != strings.ToLower(f.SHA256) {
			return FileOffer{}, fmt.Errorf("%w: file %d: sha256 must be 64 lower-case hex digits", ErrBadTransfer, i)
		}
		files[strings.ToLower(f.Path)] = true
	}
	if len(files) != len(o.Files) {
		return FileOffer{}, fmt.Errorf("%w: a path appears twice (names compare case-insensitively)", ErrUnsafePath)
	}
	// No file doubles as another's directory or as another's temporary NAME.part.
	for _, f := range o.Files {
		k := strings.ToLower(f.Path)
		if files[k+".part"] {
			return FileOffer{}, fmt.Errorf("%w: %q is another file's temporary name", ErrUnsafePath, f.Path+".part")
		}
		for d := dirOf(k); d != ""; d = dirOf(d) {
			if files[d] {
				return FileOffer{}, fmt.Errorf("%w: %q is a file and a directory", ErrUnsafePath, d)
			}
		}
	}
	if o.ID != TransferID(sender, o.Files) {
		return FileOffer{}, fmt.Errorf("%w: id is not the manifest's", ErrBadTransfer)
	}
	return o, nil
}

func dirOf(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return ""
}

// decodeJSON decodes a transfer message body whose id must be a transfer id.
func decodeJSON(body []byte, v any, id *string) error {
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%w: %w", ErrBadTransfer, err)
	}
	if b, err := hex.DecodeString(*id); err != nil || len(b) != IDSize {
		return fmt.Errorf("%w: bad id", ErrBadTransfer)
	}
	return nil
}

// chunkAAD writes the record header: version, mode, id, file, chunk.
func chunkHeader(dst []byte, mode byte, id []byte, file uint32, chunk uint64) []byte {
	dst = append(dst, chunkVersion, mode)
	dst = append(dst, id...)
	dst = binary.BigEndian.AppendUint32(dst, file)
	return binary.BigEndian.AppendUint64(dst, chunk)
}

// ChunkRecord is a decoded chunk: which transfer, file and chunk, and the plaintext.
type ChunkRecord struct {
	ID    []byte
	File  uint32
	Chunk uint64
	Data  []byte
}

// chunkCipher seals and opens one transfer's chunk records on its
// DataChannel: AES-256-GCM under the key the channel's seal session exports
// for (label "vtpeer-file/v1 chunk key", context id || salt), nonce
// u32be(file) || u64be(chunk), AAD the 30-byte header. A fresh salt for
// every FileStart means no (key, nonce) pair is used twice. One goroutine
// uses it at a time (the sender's push, the receiver's run): nonce is
// scratch space that saves an allocation per chunk.
type chunkCipher struct {
	aead  cipher.AEAD
	nonce [12]byte
}

func newChunkCipher(key []byte) (*chunkCipher, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("chunk key: %w", err)
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		return nil, fmt.Errorf("chunk key: %w", err)
	}
	return &chunkCipher{aead: g}, nil
}

// nonceFor is u32be(file) || u64be(chunk), in c's scratch space.
func (c *chunkCipher) nonceFor(file uint32, chunk uint64) []byte {
	binary.BigEndian.PutUint32(c.nonce[:4], file)
	binary.BigEndian.PutUint64(c.nonce[4:], chunk)
	return c.nonce[:]
}

// EncodeChunk builds a chunk record into dst: sealed with c, or (c nil) in
// the clear for the session.
func encodeChunk(dst []byte, c *chunkCipher, id []byte, file uint32, chunk uint64, data []byte) []byte {
	mode := byte(chunkPlain)
	if c != nil {
		mode = chunkSealed
	}
	dst = chunkHeader(dst[:0], mode, id, file, chunk)
	if c == nil {
		return append(dst, data...)
	}
	return c.aead.Seal(dst, c.nonceFor(file, chunk), data, dst[:ChunkHeaderSize])
}

// DecodeChunk decodes a chunk record. With c set the record must be sealed
// and open under c; with c nil it must be a session (relay) record. Any
// failure is ErrBadChunk; the plaintext is opened in place (rec is reused).
func DecodeChunk(c *chunkCipher, rec []byte) (ChunkRecord, error) {
	if len(rec) < ChunkHeaderSize || rec[0] != chunkVersion {
		return ChunkRecord{}, fmt.Errorf("%w: short record or unknown version", ErrBadChunk)
	}
	r := ChunkRecord{ID: rec[2 : 2+IDSize], File: binary.BigEndian.Uint32(rec[2+IDSize:]),
		Chunk: binary.BigEndian.Uint64(rec[6+IDSize:])}
	switch {
	case c == nil && rec[1] == chunkPlain:
		r.Data = rec[ChunkHeaderSize:]
	case c != nil && rec[1] == chunkSealed:
		pt, err := c.aead.Open(rec[ChunkHeaderSize:ChunkHeaderSize], c.nonceFor(r.File, r.Chunk), rec[ChunkHeaderSize:], rec[:ChunkHeaderSize])
		if err != nil {
			return ChunkRecord{}, fmt.Errorf("%w: authentication failed", ErrBadChunk)
		}
		r.Data = pt
	default:
		return ChunkRecord{}, fmt.Errorf("%w: mode %d on this carrier", ErrBadChunk, rec[1])
	}
	return r, nil
}
