// Package seal is vtpeer's end-to-end seal: an authenticated X25519
// handshake over the DataChannel (or the server relay), HKDF-SHA256 key
// derivation bound to a transcript hash, and AES-256-GCM frames with a
// per-direction counter nonce that accept exactly the next frame.
//
// Handshake (offerer O, answerer A; JSON text messages in the clear):
//
//	O                                              A
//	| hello {v, role:offerer, commit:H(kO), fp:fpO} |
//	|---------------------------------------------->|  check v, role, fpO == seen DTLS cert
//	| hello {v, role:answerer, key:kA, fp:fpA}      |
//	|<----------------------------------------------|
//	| check v, role, fpA == seen cert, kA not low order
//	| reveal {key:kO}                               |
//	|---------------------------------------------->|  check H(kO) == commit, kO not low order
//	| TH = SHA-256(tag, room, kO, fpO, kA, fpA)     |
//	| HKDF(X25519(kO,kA), salt TH) → kO→A, kA→O, SAS key
//	| sealed frames: ver|seq|AES-256-GCM            |
//	|<=============================================>|
//
// Both users compare the 6-digit SAS; with accounts, each side sends a
// sealed Identity signing IdentityMessage (room, role, TH). The byte
// layouts are in docs/PROTOCOL.md, the threat model in
// docs/SECURITY.md.
//
// Words: a session is the sealed, end-to-end session with one peer, named
// by its SAS. A Session here is its cryptography on one transport; pkg/peer
// continues the same session on a new transport (continuity) and keeps its
// reliable delivery, and pkg/app's Room is the application above all of a
// room's sessions.
//
// The package imports only the standard library: account signatures are
// made and checked by the caller through SignFunc and RecoverFunc.
package seal
