package main

import (
	"errors"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

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
}

func (m *mailFlags) bind(cmd *cobra.Command, g *globals) {
	f := cmd.Flags()
	f.StringVar(&m.path, "mailbox", filepath.Join(vtpeerHome(g), "mailbox.db"), "file of the mailbox that keeps sealed mail for absent peers")
	f.BoolVar(&m.off, "no-mailbox", false, "keep no mail (mail frames are refused)")
	f.DurationVar(&m.ttl, "mailbox-ttl", 7*24*time.Hour, "how long mail is kept")
	f.IntVar(&m.maxMessages, "mailbox-max-messages", 100, "mail kept per recipient and room")
	f.IntVar(&m.maxBytes, "mailbox-max-bytes", 1<<20, "bytes of mail kept per recipient and room")
}

// open opens the mailbox, or returns nil with --no-mailbox.
func (m *mailFlags) open(log *slog.Logger, reg prometheus.Registerer) (*mailbox.Box, error) {
	if m.off {
		return nil, nil
	}
	if m.ttl <= 0 || m.maxMessages <= 0 || m.maxBytes <= 0 {
		return nil, usageError(errMailboxFlags)
	}
	return mailbox.Open(m.path, &mailbox.Options{TTL: m.ttl, MaxMessagesPerBox: m.maxMessages, MaxBytesPerBox: m.maxBytes,
		Logger: log, Registry: reg})
}

// mailStore keeps a nil *mailbox.Box a nil interface.
func mailStore(b *mailbox.Box) signal.MailStore {
	if b == nil {
		return nil
	}
	return b
}

// errMailboxFlags is the usage error for non-positive mailbox limits.
var errMailboxFlags = errors.New("--mailbox-ttl, --mailbox-max-messages and --mailbox-max-bytes must be positive")
