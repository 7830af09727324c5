// Package tips signs, verifies and forwards VERY tip meta-transactions
// (VeryTippers, VERY Chain id 8888). It is the only vtpeer package that
// imports go-ethereum.
//
// A tip is a Meta signed with EIP-191 personal_sign over TipRouter's
// getMessageHash:
//
//	messageHash = keccak256(abi.encodePacked(address from, address to,
//	                  uint256 amount, bytes32 cidHash, uint256 nonce))
//	signature   = personal_sign(messageHash)  // 65 bytes, V = 27/28
//
// exactly what ethers' signer.signMessage(getBytes(messageHash)) produces, so
// the orchestrator and relayer verify vtpeer's tips unchanged. cidHash is
// keccak256(utf8(cid)), keccak256("") without a cid, or an explicit value the
// payload carries (the orchestrator drafts 0x00…00).
//
// vtpeer's nonces are (unix ms << 128) | 128 random bits (NewNonce), so the
// signing time is signed and a Verifier can refuse stale tips; other
// clients' tips are judged on the rest and reported with TimestampSigned
// false.
//
// The receiving side:
//
//	sm, err := tips.ParseSignedMeta(frame)      // strict decoder, fuzzed
//	res, err := verifier.Verify(sm)             // *VerifyError with a Code
//	err = store.Record(res.Hash, time.Now())    // ErrReplay, persistent
//	err = forwarder.Enqueue(ctx, sm)            // forward queue → orchestrator POST
//	receipt := tips.Receipt{…}; tips.SignReceipt(signer, &receipt)
//
// A Desk does all of that for one received tip: Judge (and JudgeQueued for
// a tip that waited, against QueuedMaxAge) returns one Verdict and one
// Receipt for every outcome, with the codes above plus CodeWrongRecipient,
// CodeAlreadyAccepted and CodeNotReceiving.
//
// Words: the forwarder's persistent queue of accepted tips is the forward
// queue (its bbolt bucket is still named "outbox" on disk); in vtpeer,
// "outbox" means the peers' queue of messages for absent recipients
// (mailbox.Outbox) and nothing else.
//
// Keys live in a go-ethereum V3 Keystore (scrypt). Nothing in this package
// logs or returns key material or passwords.
package tips
