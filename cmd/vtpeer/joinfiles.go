package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/verytippers/vtpeer/pkg/app"
)

// joinFiles is what `vtpeer join` keeps about file transfers: the incoming
// offers waiting for the user's answer, the /send transfers under way and
// the view that renders their events.
type joinFiles struct {
	view    *transferView
	pending []app.TransferOffer // incoming offers waiting for y/n, oldest first
	sent    chan sendResult     // a /send finished
	ctx     context.Context     // ends the /send transfers when join ends
	cancel  context.CancelFunc
}

// sendResult is how a /send ended.
type sendResult struct {
	paths []string
	err   error
}

// fileOptions turns --receive-dir, --accept-files and --max-file-size into
// the Room's FileOptions (nil: files are refused).
func (o *joinOptions) fileOptions(cmd *cobra.Command) (*app.FileOptions, error) {
	if o.receiveDir == "" {
		if o.acceptFiles || cmd.Flags().Changed("max-file-size") {
			return nil, usageError(errors.New("--accept-files and --max-file-size need --receive-dir DIR"))
		}
		return nil, nil
	}
	limit, err := parseSize(o.maxFileSize, app.MaxFileSize)
	if err != nil {
		return nil, usageError(fmt.Errorf("--max-file-size: %w", err))
	}
	dir, err := filepath.Abs(o.receiveDir)
	if err != nil {
		return nil, usageError(fmt.Errorf("--receive-dir: %w", err))
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("--receive-dir: %w", err)
	}
	o.receiveDir = dir
	return &app.FileOptions{Dir: dir, MaxFileSize: limit, AutoAccept: o.acceptFiles}, nil
}

func (f *joinFiles) init(ctx context.Context, j *joinLoop) {
	f.view = newTransferView(j.out, j.g.stdout, j.nameOf)
	f.view.dir = j.o.receiveDir
	f.sent = make(chan sendResult)
	f.ctx, f.cancel = context.WithCancel(ctx)
}

// handleTransfer renders a transfer event and keeps the waiting offers; it reports whether ev
// was one.
func (j *joinLoop) handleTransfer(ev app.Event) bool {
	f := &j.files
	switch e := ev.(type) {
	case app.TransferOffer:
		f.view.handle(ev)
		if e.Incoming {
			j.showOffer(e)
		}
		return true
	case app.TransferProgress:
		if e.Incoming {
			f.drop(e.ID) // accepted (or resumed without asking)
		}
	case app.TransferDone:
		f.drop(e.ID)
	case *app.TransferError:
		f.drop(e.ID)
		if e.Incoming && e.Code == app.XferRefused { // our own answer, already shown
			j.out.event(transferErrorEvent(e), "")
			return true
		}
		if e.Incoming && e.Code == app.XferNotReceiving {
			f.view.pause()
			j.out.event(transferErrorEvent(e), fmt.Sprintf("! %s offered files: refused, this join takes none (start it with --receive-dir DIR to receive files)", j.nameOf(e.Peer)))
			return true
		}
	}
	return f.view.handle(ev)
}

// showOffer announces an incoming offer and, unless --accept-files, asks.
func (j *joinLoop) showOffer(e app.TransferOffer) {
	f := &j.files
	from := j.nameOf(e.Peer)
	if e.From != "" {
		from = e.From
	}
	ask := !j.o.acceptFiles
	if ask {
		f.drop(e.ID) // offered again (a new link): one entry
		f.pending = append(f.pending, e)
	}
	id := shortID(e.ID)
	line := fmt.Sprintf("* %s offers %s [%s] — accept into %s? type y or n (or /accept %s, /refuse %s)",
		from, describeFiles(e.Files, e.Total), id, j.o.receiveDir, id, id)
	if !ask {
		line = fmt.Sprintf("* receiving %s from %s into %s [%s]", describeFiles(e.Files, e.Total), from, j.o.receiveDir, id)
	}
	f.view.pause()
	j.out.event(evTransferOffer{Type: "transfer-offer", ID: e.ID, Peer: e.Peer, From: e.From, Incoming: true, Files: nonNilFiles(e.Files),
		Total: e.Total, Ask: ask, Dir: j.o.receiveDir}, line)
}

// drop forgets a waiting offer.
func (f *joinFiles) drop(id string) {
	for i, o := range f.pending {
		if o.ID == id {
			f.pending = append(f.pending[:i:i], f.pending[i+1:]...)
			return
		}
	}
}

// answerLine takes a bare y/yes/n/no line as the answer to the oldest waiting offer; it
// reports whether it did (the line is then not sent as chat).
func (j *joinLoop) answerLine(line string) bool {
	if len(j.files.pending) == 0 {
		return false
	}
	switch strings.ToLower(line) {
	case "y", "yes":
		j.answer(true, nil)
	case "n", "no":
		j.answer(false, nil)
	default:
		return false
	}
	return true
}

// answer accepts or refuses a waiting offer: the one whose id starts with args[0], or the
// oldest.
func (j *joinLoop) answer(yes bool, args []string) {
	f := &j.files
	cmd := "/refuse"
	if yes {
		cmd = "/accept"
	}
	if len(f.pending) == 0 {
		j.out.text("! %s: no offer of files is waiting for an answer", cmd)
		return
	}
	if len(args) > 1 {
		j.out.text("! usage: %s [ID]", cmd)
		return
	}
	o := f.pending[0]
	if len(args) == 1 {
		var found []app.TransferOffer
		for _, p := range f.pending {
			if strings.HasPrefix(strings.ToLower(p.ID), strings.ToLower(args[0])) {
				found = append(found, p)
			}
		}
		switch len(found) {
		case 0:
			j.out.text("! %s: no waiting offer has an id starting with %q", cmd, args[0])
			return
		case 1:
			o = found[0]
		default:
			j.out.text("! %s: %d waiting offers have an id starting with %q: give more of it", cmd, len(found), args[0])
			return
		}
	}
	f.drop(o.ID)
	if err := j.room.Accept(o.ID, yes); err != nil {
		j.out.text("! %s: %v", cmd, err)
		return
	}
	if yes {
		j.out.text("* accepted %s [%s]: receiving into %s", describeFiles(o.Files, o.Total), shortID(o.ID), j.o.receiveDir)
	} else {
		j.out.text("* refused the offer [%s]", shortID(o.ID))
	}
}

// sendFiles runs /send PATH…: the files go to the one connected peer, in the background; the
// outcome comes back on files.sent.
func (j *joinLoop) sendFiles(_ context.Context, paths []string) {
	if len(paths) == 0 {
		j.out.text("! usage: /send PATH… (files or directories; the one connected peer gets them)")
		return
	}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			j.out.text("! /send: %v", err)
			return
		}
		if !st.Mode().IsRegular() && !st.IsDir() {
			j.out.text("! /send: %s is neither a regular file nor a directory", p)
			return
		}
	}
	target, err := app.ChooseFileTarget(j.room.Peers(), "", "")
	if err != nil {
		j.out.text("! /send: %v", strings.ReplaceAll(err.Error(), "name the recipient with --to 0xADDRESS or --peer ID", "use `vtpeer send --to/--peer` to pick one"))
		return
	}
	var addr string
	for _, p := range j.room.Peers() {
		if p.ID == target {
			addr = p.Address
		}
	}
	j.out.text("* /send: hashing and offering %s to %s", strings.Join(paths, " "), j.nameOf(target))
	f := &j.files
	go func() {
		err := j.room.SendFiles(f.ctx, paths, filePicker(target, addr, "", ""))
		select {
		case f.sent <- sendResult{paths: paths, err: err}:
		case <-f.ctx.Done():
		}
	}()
}

// sendDone reports how a /send ended.
func (j *joinLoop) sendDone(r sendResult) {
	var te *app.TransferError
	switch {
	case r.err == nil:
		j.out.text("* /send %s: every file is in place at the peer", strings.Join(r.paths, " "))
	case errors.As(r.err, &te):
		j.files.view.pause()
		j.out.event(transferErrorEvent(te), "! /send: "+transferErrorLine(j.nameOf(te.Peer), te))
	default:
		j.out.event(evError{Type: "error", Code: "send", Error: r.err.Error()}, "! /send: "+r.err.Error())
	}
}
