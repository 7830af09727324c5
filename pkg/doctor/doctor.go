package doctor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
)

// Run runs the checklist and returns it. It returns an error only for bad
// options; every problem it finds is a line of the report.
func Run(ctx context.Context, opts *Options) (*Report, error) {
	o := opts.withDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	r := &Report{}
	var facts serverFacts
	if o.Server != "" {
		facts = checkServer(ctx, &o, r)
		checkNetwork(ctx, &o, r, &facts)
	} else {
		r.add(GroupServer, "server", StatusSkip, "no server given: server and network checks skipped", "")
	}
	checkMachine(ctx, &o, r, &facts)
	return r, nil
}

// randomRoom names a room no one else uses, for the join-and-leave check.
func randomRoom() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "vtpeer-doctor-" + hex.EncodeToString(b[:])
}
