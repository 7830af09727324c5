package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/verytippers/vtpeer/pkg/tips"
)

// newVerifyCmd builds `vtpeer verify [FILE|-]`.
func newVerifyCmd(g *globals) *cobra.Command {
	var maxAge time.Duration
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "verify [FILE|-]",
		Short: "Verify a signed tip offline",
		Long: `Verify a signed-meta JSON (from FILE, or stdin for - or no argument) offline:
signature, signer, amount, addresses and, for vtpeer's timestamped nonces,
freshness. Prints the signer and hash; exits 1 with the reason when invalid.`,
		Args: cobra.MaximumNArgs(1),
	}
	cmd.Flags().DurationVar(&maxAge, "max-age", tips.DefaultMaxAge, "refuse tips whose signed timestamp is older than this")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if maxAge <= 0 {
			return usageError(fmt.Errorf("--max-age must be positive"))
		}
		path := "-"
		if len(args) == 1 {
			path = args[0]
		}
		b, err := readInput(g, path, tips.MaxSignedMetaSize)
		if err != nil {
			return err
		}
		sm, res, err := verifySignedMeta(b, maxAge)
		return printVerify(cmd.OutOrStdout(), asJSON, sm, res, err)
	}
	return cmd
}

// readInput reads path ("-" = stdin), at most limit bytes.
func readInput(g *globals, path string, limit int64) ([]byte, error) {
	var r io.Reader = g.stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return nil, err // already names the file
		}
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, limit)
	}
	return b, nil
}

// verifySignedMeta parses and verifies a signed-meta JSON.
func verifySignedMeta(b []byte, maxAge time.Duration) (*tips.SignedMeta, tips.Result, error) {
	sm, err := tips.ParseSignedMeta(b)
	if err != nil {
		return nil, tips.Result{}, err
	}
	res, err := (&tips.Verifier{MaxAge: maxAge}).Verify(sm)
	return sm, res, err
}

type verifyOutput struct {
	Valid           bool   `json:"valid"`
	Code            string `json:"code,omitempty"`
	Reason          string `json:"reason,omitempty"`
	Signer          string `json:"signer,omitempty"`
	From            string `json:"from,omitempty"`
	To              string `json:"to,omitempty"`
	MessageHash     string `json:"messageHash,omitempty"`
	Amount          string `json:"amount,omitempty"`
	AmountVery      string `json:"amountVery,omitempty"`
	Cid             string `json:"cid,omitempty"`
	TimestampSigned bool   `json:"timestampSigned"`
}

func printVerify(w io.Writer, asJSON bool, sm *tips.SignedMeta, res tips.Result, verr error) error {
	out := verifyOutput{Valid: verr == nil}
	if verr != nil {
		out.Code = tips.CodeOf(verr)
		out.Reason = verr.Error()
		var ve *tips.VerifyError
		if errors.As(verr, &ve) {
			out.Reason = ve.Reason
		}
	} else {
		out.Signer, out.MessageHash, out.TimestampSigned = res.Signer.Hex(), res.Hash.Hex(), res.TimestampSigned
		out.From, out.To, out.Cid = sm.Meta.From.Hex(), sm.Meta.To.Hex(), sm.Meta.Cid
		out.Amount, out.AmountVery = sm.Meta.Amount.String(), tips.FormatAmount(sm.Meta.Amount)
	}
	if asJSON {
		b, _ := json.Marshal(out)
		fmt.Fprintln(w, string(b))
	} else if verr == nil {
		fmt.Fprintf(w, "valid\nsigner          %s\nto              %s\nmessageHash     %s\namount          %s wei (%s VERY)\ncid             %q\ntimestampSigned %t\n",
			out.Signer, out.To, out.MessageHash, out.Amount, out.AmountVery, out.Cid, out.TimestampSigned)
	}
	if verr != nil {
		return &exitError{code: exitFailure, err: fmt.Errorf("invalid tip: %s (%s)", out.Reason, out.Code)}
	}
	return nil
}
