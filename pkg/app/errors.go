package app

import "errors"

// Sentinel errors. Compare with errors.Is.
var (
	// ErrBadOptions is returned by New for invalid options.
	ErrBadOptions = errors.New("app: invalid options")
	// ErrBadChat means a chat body is not ChatBody JSON with UTF-8 text.
	ErrBadChat = errors.New("app: undecodable chat message")
	// ErrBadReceipt means a receipt body is not tips.Receipt JSON.
	ErrBadReceipt = errors.New("app: undecodable receipt")
	// ErrAmbiguousTarget means several peers could take a tip and none is
	// named (ChooseTipTarget).
	ErrAmbiguousTarget = errors.New("ambiguous recipient")
	// ErrNoAccount means an operation needs an account (Options.Signer) or
	// the postbox that comes with one.
	ErrNoAccount = errors.New("app: needs an account")
	// ErrStarted means QueueChat was called after Start.
	ErrStarted = errors.New("app: room already started")
	// ErrPostboxInUse means another process holds the postbox file.
	ErrPostboxInUse = errors.New("app: postbox in use by another vtpeer process")
)
