package app

import (
	"fmt"
	"time"
)

// FileOptions make a Room receive files (Options.Files).
type FileOptions struct {
	// Dir is the receive directory; every received file lands beneath it
	// (os.Root: no path, ".." or symbolic link leads out). Required.
	Dir string
	// MaxFileSize refuses offers with a larger file (default
	// DefaultMaxFileSize).
	MaxFileSize int64
	// AutoAccept accepts every offer; otherwise each waits for Accept.
	AutoAccept bool
	// RecordDir holds the record of received chunks (a bbolt file,
	// transfers.db) when the Room has no Postbox, so that a transfer
	// resumes after a restart of the receiver too. With a Postbox the record
	// lives in it. Empty: in memory (resume after a dropped link only). A
	// transfers.db another process holds: in memory, with a warning.
	RecordDir string
}

// DefaultMaxFileSize is FileOptions.MaxFileSize's default (4 GiB).
const DefaultMaxFileSize = 4 << 30

// Transfer error codes (TransferError.Code, FileAnswer/FileResult codes).
const (
	XferRefused       = "refused"        // the receiver said no
	XferNotReceiving  = "not_receiving"  // the receiver takes no files (no receive directory)
	XferTooLarge      = "too_large"      // a file exceeds the receiver's limit
	XferUnsafePath    = "unsafe_path"    // a path could leave the receive directory
	XferExists        = "exists"         // a file of that name is already in the receive directory
	XferBadManifest   = "bad_manifest"   // the offer did not decode
	XferBadChunk      = "bad_chunk"      // a chunk did not authenticate or does not fit the manifest
	XferHashMismatch  = "hash_mismatch"  // a file's SHA-256 is not the manifest's
	XferDiskFull      = "disk_full"      // no space left on the receiver's disk (.part kept)
	XferIO            = "io"             // another file system error
	XferInterrupted   = "interrupted"    // the transport went away; the sender resumes it
	XferCancelled     = "cancelled"      // a side gave up
	XferSourceChanged = "source_changed" // a file changed on the sender's disk since the offer
)

// TransferError is a transfer that failed, or a file of it; Code is one of
// the Xfer* codes.
type TransferError struct {
	Peer     string
	ID       string
	Incoming bool
	Path     string // the file, "" for the whole transfer
	Code     string
	Err      error
}

// Error implements error.
func (e *TransferError) Error() string {
	if e.Path != "" {
		return fmt.Sprintf("transfer %s: %s: %s: %v", short(e.ID), e.Path, e.Code, e.Err)
	}
	return fmt.Sprintf("transfer %s: %s: %v", short(e.ID), e.Code, e.Err)
}

// Unwrap lets errors.Is see ErrTransfer and the cause.
func (e *TransferError) Unwrap() []error { return []error{ErrTransfer, e.Err} }

// TransferOffer is an offer of files: Incoming from a peer (accept it with
// Room.Accept unless FileOptions.AutoAccept), or ours being made.
type TransferOffer struct {
	Peer     string
	From     string // the sender's proven account, "" anonymous
	ID       string
	Incoming bool
	Files    []FileEntry
	Total    int64
	Resumed  int64 // bytes the receiver holds verified from an earlier attempt
}

// TransferProgress reports a transfer's bytes. Bytes counts what is in
// place (resumed bytes included); Moved what travelled in this run.
type TransferProgress struct {
	Peer     string
	ID       string
	Incoming bool
	File     string // the file being moved
	Bytes    int64
	Total    int64
	Moved    int64
	Rate     float64       // bytes/s over this run
	ETA      time.Duration // at Rate
}

// TransferDone reports one file verified (its SHA-256) and, on the
// receiver, renamed into place.
type TransferDone struct {
	Peer     string
	ID       string
	Incoming bool
	Path     string
	Size     int64
	SHA256   string
	Last     bool // the transfer's last file
}

// TransferWarning is a transfer going on in a degraded way: Code "relay"
// (it runs over the signaling server's relay at its budget).
type TransferWarning struct {
	Peer   string
	ID     string
	Code   string
	Reason string
}

// TransferError is also an Event (a failed transfer or file).
var _ Event = (*TransferError)(nil)
