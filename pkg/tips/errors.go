package tips

import (
	"errors"
	"fmt"
)

// Verification failure codes. They travel in receipts and in `vtpeer join --json`
// events, so they are part of the wire interface: never rename one.
const (
	CodeMalformed           = "malformed"             // the JSON could not be decoded
	CodeBadAddress          = "bad_address"           // from or to is not a valid, non-zero 20-byte address
	CodeSameFromTo          = "same_from_to"          // from equals to
	CodeBadAmount           = "bad_amount"            // amount is not a uint256 greater than zero
	CodeBadNonce            = "bad_nonce"             // nonce is not a uint256
	CodeCidHashMismatch     = "cid_hash_mismatch"     // a non-empty cid does not hash to the given cidHash
	CodeMessageHashMismatch = "message_hash_mismatch" // the sent messageHash is not the recomputed one
	CodeSignatureLength     = "bad_signature_length"  // the signature is not 65 bytes
	CodeSignatureV          = "bad_signature_v"       // V is not 27/28 (or 0/1)
	CodeHighS               = "high_s"                // s is in the upper half of the curve order (EIP-2)
	CodeBadSignature        = "bad_signature"         // r or s out of range, or no public key recovers
	CodeSignerMismatch      = "signer_mismatch"       // the recovered signer is not meta.from
	CodeTimestampMismatch   = "timestamp_mismatch"    // meta.timestamp differs from the one signed in the nonce
	CodeExpired             = "expired"               // the signed timestamp is older than MaxAge
	CodeFuture              = "future"                // the signed timestamp is further than MaxFuture ahead
	CodeReplay              = "replay"                // the messageHash was accepted before
	// CodeStore refuses a valid tip the receiver could not record (its
	// replay store or forward queue failed to write, e.g. a full disk).
	// Nothing was recorded: the same tip may be sent again later.
	CodeStore = "store"
)

// Sentinel errors. A *VerifyError unwraps to exactly one of the first group,
// so callers can use errors.Is.
var (
	ErrMalformed           = errors.New("tips: malformed signed meta")
	ErrBadAddress          = errors.New("tips: invalid address")
	ErrSameFromTo          = errors.New("tips: from and to are the same address")
	ErrBadAmount           = errors.New("tips: invalid amount")
	ErrBadNonce            = errors.New("tips: invalid nonce")
	ErrCidHashMismatch     = errors.New("tips: cid does not match cidHash")
	ErrMessageHashMismatch = errors.New("tips: messageHash does not match the meta")
	ErrSignatureLength     = errors.New("tips: signature is not 65 bytes")
	ErrSignatureV          = errors.New("tips: invalid signature recovery id")
	ErrHighS               = errors.New("tips: signature s value is not low (EIP-2)")
	ErrBadSignature        = errors.New("tips: invalid signature")
	ErrSignerMismatch      = errors.New("tips: signer is not meta.from")
	ErrTimestampMismatch   = errors.New("tips: meta.timestamp differs from the signed timestamp")
	ErrExpired             = errors.New("tips: tip is too old")
	ErrFuture              = errors.New("tips: tip timestamp is in the future")

	// ErrReplay is returned by Store.Record when the hash was recorded before.
	ErrReplay = errors.New("tips: replayed tip")
	// ErrStoreInUse is returned by OpenStore when another process holds the store.
	ErrStoreInUse = errors.New("tips: store in use by another vtpeer process")
	// ErrStoreClosed is returned by Store methods after Close.
	ErrStoreClosed = errors.New("tips: store closed")

	// ErrForwardURL is returned by OpenDesk when DeskOptions.ForwardURL is
	// not an http(s) URL.
	ErrForwardURL = errors.New("tips: bad forward URL")

	// ErrBadReceipt is returned when a receipt's signature does not verify.
	ErrBadReceipt = errors.New("tips: invalid receipt signature")

	// ErrWrongPassword is returned by Keystore methods when the password does
	// not decrypt the key. It never contains the password.
	ErrWrongPassword = errors.New("tips: wrong password for account")
	// ErrNoAccounts is returned by Keystore.Find when the keystore is empty.
	ErrNoAccounts = errors.New("tips: no accounts in keystore")
	// ErrUnknownAccount is returned by Keystore.Find for an address it does not hold.
	ErrUnknownAccount = errors.New("tips: unknown account")
	// ErrAmbiguousAccount is returned by Keystore.Find when several accounts
	// exist and none was named.
	ErrAmbiguousAccount = errors.New("tips: several accounts in keystore and none chosen")
	// ErrAccountExists is returned when importing a key the keystore already holds.
	ErrAccountExists = errors.New("tips: account already exists")
	// ErrBadKey is returned when an imported key file is neither a V3 keystore
	// JSON nor a hex private key. It never contains the key.
	ErrBadKey = errors.New("tips: not a keystore JSON or hex private key")

	// ErrEmptyPassword is returned when a key would be encrypted with an
	// empty password.
	ErrEmptyPassword = errors.New("tips: empty password")

	// ErrKDFParams is returned when a keystore file's KDF parameters are
	// outside the limits (MaxScryptN, MaxScryptR, MaxScryptP, MaxPBKDF2C,
	// KeyDKLen) or of the wrong type; the error names the parameter.
	ErrKDFParams = errors.New("tips: keystore KDF parameters refused")

	// ErrForwarderClosed is returned by Enqueue after the store was closed.
	ErrForwarderClosed = errors.New("tips: forwarder closed")
)

// VerifyError reports why a signed meta was refused. Code is one of the Code*
// constants, Reason a human sentence safe to show and send (it never holds
// key material), and errors.Is(err, ErrXxx) matches the sentinel of the code.
type VerifyError struct {
	Code   string
	Reason string
	err    error
}

// Error returns "tips: <reason> (<code>)".
func (e *VerifyError) Error() string { return fmt.Sprintf("tips: %s (%s)", e.Reason, e.Code) }

// Unwrap returns the sentinel for the error's code.
func (e *VerifyError) Unwrap() error { return e.err }

func verr(sentinel error, code, format string, args ...any) *VerifyError {
	return &VerifyError{Code: code, Reason: fmt.Sprintf(format, args...), err: sentinel}
}

// CodeOf returns the Code of a *VerifyError in err's chain, CodeReplay for
// ErrReplay, or "" for anything else.
func CodeOf(err error) string {
	var ve *VerifyError
	switch {
	case errors.As(err, &ve):
		return ve.Code
	case errors.Is(err, ErrReplay):
		return CodeReplay
	}
	return ""
}
