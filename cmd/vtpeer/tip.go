package main

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/spf13/cobra"

	"github.com/verytippers/vtpeer/pkg/tips"
)

// tipOptions are the flags of `vtpeer tip`.
type tipOptions struct {
	room      string
	to        string
	amount    string
	amountWei string
	cid       string
	net       netFlags
	timeout   time.Duration
	peer      string
	dryRun    bool
	queue     bool
	signed    string
	maxAge    time.Duration
	account   *accountFlags
	signer    *tips.KeySigner // unlocked account, nil with --signed; closed by RunE
}

// newTipCmd builds `vtpeer tip`.
func newTipCmd(g *globals) *cobra.Command {
	o := &tipOptions{}
	cmd := &cobra.Command{
		Use:   "tip --room R --to 0x… --amount 5",
		Short: "Sign a VERY tip and send it to a peer in a room",
		Long: `Sign a tip with a keystore account and send it over the encrypted channel to
one peer in room R: the one proving the --to address if any does, else the only
peer present (pick with --peer when several are). Waits for the signed receipt
and exits 0 when the tip is accepted.

--dry-run prints the signed-meta JSON on stdout and sends nothing (no room or
server needed). --signed FILE|- sends a tip signed elsewhere instead; --to and
--amount are then taken from it and no keystore is needed.`,
		Args: cobra.NoArgs,
	}
	f := cmd.Flags()
	f.StringVar(&o.room, "room", "", "room to join")
	f.StringVar(&o.to, "to", "", "recipient address")
	f.StringVar(&o.amount, "amount", "", "amount in VERY (up to 18 decimals, e.g. 5 or 0.25)")
	f.StringVar(&o.amountWei, "amount-wei", "", "amount in wei (instead of --amount)")
	f.StringVar(&o.cid, "cid", "", "optional IPFS CID or message attached to the tip")
	o.net.bind(cmd, g)
	f.DurationVar(&o.timeout, "timeout", 30*time.Second, "how long to wait for a peer and its receipt")
	f.StringVar(&o.peer, "peer", "", "peer ID to send to when several unproven peers are present")
	f.BoolVar(&o.dryRun, "dry-run", false, "print the signed tip JSON and send nothing")
	f.BoolVar(&o.queue, "queue", false, "if the recipient is not in the room, keep the signed tip for them (outbox, and the server's mailbox when their mail key is known) instead of failing")
	f.StringVar(&o.signed, "signed", "", "send a tip signed elsewhere, from FILE or - (stdin)")
	f.DurationVar(&o.maxAge, "max-age", tips.DefaultMaxAge, "refuse a --signed tip older than this")
	o.account = bindAccountFlags(cmd, g, true)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		sm, err := o.signedMeta(cmd, g)
		if o.signer != nil {
			defer o.signer.Close()
		}
		if err != nil {
			return err
		}
		if o.dryRun {
			b, err := json.Marshal(sm)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), string(b))
			return nil
		}
		if o.room == "" {
			return usageError(errors.New("--room is required (or use --dry-run)"))
		}
		if err := checkRoom(o.room); err != nil {
			return err
		}
		if o.timeout <= 0 {
			return usageError(errors.New("--timeout must be positive"))
		}
		if o.queue && o.signer == nil {
			return usageError(errors.New("--queue needs your account (it signs the mail), not --signed"))
		}
		return sendTip(cmd.Context(), g, o, sm)
	}
	return cmd
}

// signedMeta returns the tip to send: loaded and verified from --signed, or
// signed now with the keystore account.
func (o *tipOptions) signedMeta(cmd *cobra.Command, g *globals) (*tips.SignedMeta, error) {
	if o.signed != "" {
		if o.to != "" || o.amount != "" || o.amountWei != "" || o.cid != "" {
			return nil, usageError(errors.New("--signed takes --to, --amount and --cid from the signed tip: do not pass them"))
		}
		b, err := readInput(g, o.signed, tips.MaxSignedMetaSize)
		if err != nil {
			return nil, err
		}
		sm, _, err := verifySignedMeta(b, o.maxAge)
		if err != nil {
			return nil, &exitError{code: exitFailure, err: fmt.Errorf("--signed: %w", err)}
		}
		return sm, nil
	}
	if o.to == "" {
		return nil, usageError(errors.New("--to is required"))
	}
	to, err := tips.ParseAddress(o.to)
	if err != nil {
		return nil, usageError(fmt.Errorf("--to %q is not an address", o.to))
	}
	var wei *big.Int
	switch {
	case o.amount == "" && o.amountWei == "":
		return nil, usageError(errors.New("--amount (VERY) or --amount-wei is required"))
	case o.amount != "" && o.amountWei != "":
		return nil, usageError(errors.New("give --amount or --amount-wei, not both"))
	case o.amount != "":
		wei, err = tips.ParseAmount(o.amount)
	default:
		wei, err = tips.ParseWei(o.amountWei)
	}
	if err != nil {
		return nil, usageError(err)
	}
	signer, err := o.account.unlock(cmd, func(line string) { fmt.Fprintln(cmd.ErrOrStderr(), "* "+line) }) // stdout may be the --dry-run JSON
	if err != nil {
		return nil, err
	}
	o.signer = signer // kept open: it also proves our identity to the peer
	now := time.Now()
	sm, err := tips.Sign(signer, tips.Meta{
		From:      signer.Address(),
		To:        to,
		Amount:    wei,
		Timestamp: now.UnixMilli(),
		Cid:       o.cid,
		Nonce:     tips.NewNonce(rand.Reader, now),
	})
	if err != nil {
		var ve *tips.VerifyError
		if errors.As(err, &ve) {
			return nil, usageError(err)
		}
		return nil, err
	}
	return sm, nil
}
