package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/verytippers/vtpeer/pkg/cluster"
	"github.com/verytippers/vtpeer/pkg/mailbox"
	"github.com/verytippers/vtpeer/pkg/signal"
)

// mailFlags configure the server's mailbox: sealed mail kept for peers that
// are away (docs/PROTOCOL.md, "Offline mail").
type mailFlags struct {
	path        string
	off         bool
	ttl         time.Duration
	maxMessages int
	maxBytes    int
	maxBoxes    int
	maxTotal    int
	depRate     int
	depBurst    int
}

func (m *mailFlags) bind(cmd *cobra.Command, g *globals) {
	f := cmd.Flags()
	f.StringVar(&m.path, "mailbox", filepath.Join(vtpeerHome(g), "mailbox.db"), "file of the mailbox that keeps sealed mail for absent peers (a clustered node keeps mail in the cluster's JetStream instead)")
	f.BoolVar(&m.off, "no-mailbox", false, "keep no mail (mail frames are refused)")
	f.DurationVar(&m.ttl, "mailbox-ttl", 7*24*time.Hour, "how long mail is kept")
	f.IntVar(&m.maxMessages, "mailbox-max-messages", 100, "mail kept per recipient and room")
	f.IntVar(&m.maxBytes, "mailbox-max-bytes", 1<<20, "bytes of mail kept per recipient and room")
	f.IntVar(&m.maxBoxes, "mailbox-max-boxes", mailbox.DefaultMaxBoxes, "recipients (mailbox id and room) with mail kept, over the whole server")
	f.IntVar(&m.maxTotal, "mailbox-max-total-bytes", mailbox.DefaultMaxTotalBytes, "bytes of mail kept over the whole server (the file stays under about twice this)")
	f.IntVar(&m.depRate, "mailbox-deposit-rate", 32<<10, "bytes per second of mail one connection may deposit")
	f.IntVar(&m.depBurst, "mailbox-deposit-burst", 512<<10, "bytes of mail one connection may deposit at once (at least 49152, one largest message)")
}

// check checks the mailbox flags before anything starts.
func (m *mailFlags) check() error {
	if m.off {
		return nil
	}
	if m.ttl <= 0 || m.maxMessages <= 0 || m.maxBytes <= 0 || m.maxBoxes <= 0 || m.maxTotal <= 0 || m.depRate <= 0 {
		return usageError(errMailboxFlags)
	}
	if m.depBurst < mailbox.DefaultMaxMessageBytes {
		return usageError(fmt.Errorf("--mailbox-deposit-burst %d is below one largest message (%d bytes)", m.depBurst, mailbox.DefaultMaxMessageBytes))
	}
	return nil
}

// open opens the mailbox: none with --no-mailbox; the cluster's JetStream
// stream (--cluster-replicas copies, the same limits) when the node is
// clustered, so that any node hands over mail deposited on another; else
// the --mailbox file. close releases it after the signal.Server closed.
func (m *mailFlags) open(ctx context.Context, log *slog.Logger, reg prometheus.Registerer, rooms *sharedRooms) (_ signal.MailStore, close func(), _ error) {
	if err := m.check(); err != nil || m.off {
		return nil, func() {}, err
	}
	if rooms.clustered {
		sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		st, err := cluster.NewMailStore(sctx, rooms.nc, &cluster.MailOptions{Replicas: rooms.replicas, TTL: m.ttl,
			MaxMessagesPerBox: m.maxMessages, MaxBytesPerBox: m.maxBytes, MaxMessageBytes: mailbox.DefaultMaxMessageBytes,
			MaxBoxes: m.maxBoxes, MaxTotalBytes: m.maxTotal, Logger: log.With("component", "mail")})
		if err != nil {
			return nil, nil, fmt.Errorf("open the cluster's mailbox: %w", err)
		}
		log.Info("mailbox in the cluster's JetStream", "replicas", rooms.replicas)
		return st, func() {}, nil
	}
	b, err := mailbox.Open(m.path, &mailbox.Options{TTL: m.ttl, MaxMessagesPerBox: m.maxMessages, MaxBytesPerBox: m.maxBytes,
		MaxBoxes: m.maxBoxes, MaxTotalBytes: m.maxTotal, Logger: log, Registry: reg})
	if err != nil {
		return nil, nil, err
	}
	return b, func() { _ = b.Close() }, nil
}

// errMailboxFlags is the usage error for non-positive mailbox limits.
var errMailboxFlags = errors.New("--mailbox-ttl, --mailbox-max-messages, --mailbox-max-bytes, --mailbox-max-boxes, --mailbox-max-total-bytes and --mailbox-deposit-rate must be positive")
