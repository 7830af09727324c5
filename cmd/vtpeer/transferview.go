package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/verytippers/vtpeer/pkg/app"
)

// JSON events of file transfers (`vtpeer send --json`, `vtpeer join --json`),
// documented in the README.
type (
	evTransferOffer struct {
		Type     string          `json:"type"` // "transfer-offer"
		ID       string          `json:"id"`
		Peer     string          `json:"peer,omitempty"` // incoming: the sender; outgoing: "" (not chosen yet)
		From     string          `json:"from,omitempty"` // incoming: the account the sender proved
		Incoming bool            `json:"incoming"`
		Files    []app.FileEntry `json:"files"`
		Total    int64           `json:"total"`
		// Ask: the offer waits for this user's answer (y/n, /accept ID or /refuse ID).
		Ask bool   `json:"ask,omitempty"`
		Dir string `json:"dir,omitempty"` // incoming: the receive directory
	}
	evTransferProgress struct {
		Type     string  `json:"type"` // "transfer-progress"
		ID       string  `json:"id"`
		Peer     string  `json:"peer"`
		Incoming bool    `json:"incoming"`
		File     string  `json:"file,omitempty"` // the file being moved; "" in the final report
		Bytes    int64   `json:"bytes"`          // in place at the receiver, resumed bytes included
		Total    int64   `json:"total"`
		Moved    int64   `json:"moved"` // bytes that travelled in this run of this process
		Rate     float64 `json:"rate"`  // bytes/s over this run
		ETA      float64 `json:"eta"`   // seconds left at rate (0 when unknown or done)
	}
	evTransferDone struct {
		Type     string `json:"type"` // "transfer-done"
		ID       string `json:"id"`
		Peer     string `json:"peer"`
		Incoming bool   `json:"incoming"`
		Path     string `json:"path"`
		Size     int64  `json:"size"`
		SHA256   string `json:"sha256"`
		Last     bool   `json:"last"`
	}
	evTransferError struct {
		Type     string `json:"type"` // "transfer-error"
		ID       string `json:"id,omitempty"`
		Peer     string `json:"peer,omitempty"`
		Incoming bool   `json:"incoming"`
		Path     string `json:"path,omitempty"`
		Code     string `json:"code"`
		Error    string `json:"error"`
	}
	evTransferWarning struct {
		Type   string `json:"type"` // "transfer-warning"
		ID     string `json:"id"`
		Peer   string `json:"peer"`
		Code   string `json:"code"` // "relay"
		Reason string `json:"reason"`
	}
)

// transferView renders transfer events: JSON events, or human lines with a
// progress bar per file on a terminal (plain progress lines, at most one a
// second per transfer, elsewhere). Only the goroutine that reads the Room's
// events uses it.
type transferView struct {
	out    *output
	name   func(peerID string) string // how a peer is shown
	dir    string                     // the receive directory ("" when not receiving)
	bars   io.Writer                  // the terminal for the bars; nil: plain lines
	offers map[string]app.TransferOffer
	last   map[string]time.Time // plain lines: the last progress line per transfer
	bar    *progressbar.ProgressBar
	barKey string // transfer id + "/" + file of bar
	now    func() time.Time
}

func newTransferView(out *output, w io.Writer, name func(string) string) *transferView {
	v := &transferView{out: out, name: name, offers: map[string]app.TransferOffer{}, last: map[string]time.Time{}, now: time.Now}
	if f, ok := w.(*os.File); ok && !out.json && term.IsTerminal(int(f.Fd())) {
		v.bars = w
	}
	return v
}

// pause clears a progress bar before another line is printed (the bar is drawn again at its
// next progress).
func (v *transferView) pause() {
	if v.bar != nil {
		_ = v.bar.Clear()
	}
}

// handle renders ev if it is a transfer event and reports whether it was.
func (v *transferView) handle(ev app.Event) bool {
	switch e := ev.(type) {
	case app.TransferOffer:
		v.offers[e.ID] = e
		if !e.Incoming {
			v.pause()
			v.out.event(evTransferOffer{Type: "transfer-offer", ID: e.ID, From: e.From, Files: nonNilFiles(e.Files), Total: e.Total},
				fmt.Sprintf("* offering %s [%s]", describeFiles(e.Files, e.Total), shortID(e.ID)))
		}
		// An incoming offer is announced by its owner (join), which knows whether it asks.
	case app.TransferProgress:
		v.progress(e)
	case app.TransferDone:
		v.done(e)
	case *app.TransferError:
		v.endBar()
		v.out.event(transferErrorEvent(e), "! "+transferErrorLine(v.name(e.Peer), e))
	case app.TransferWarning:
		v.pause()
		v.out.event(evTransferWarning{Type: "transfer-warning", ID: e.ID, Peer: e.Peer, Code: e.Code, Reason: e.Reason},
			fmt.Sprintf("! transfer %s: %s", shortID(e.ID), e.Reason))
	default:
		return false
	}
	return true
}

func (v *transferView) progress(e app.TransferProgress) {
	if v.out.json {
		v.out.event(evTransferProgress{Type: "transfer-progress", ID: e.ID, Peer: e.Peer, Incoming: e.Incoming, File: e.File,
			Bytes: e.Bytes, Total: e.Total, Moved: e.Moved, Rate: e.Rate, ETA: e.ETA.Seconds()}, "")
		return
	}
	if v.bars != nil {
		v.drawBar(e)
		return
	}
	now := v.now()
	final := e.File == "" || e.Bytes == e.Total
	if !final && now.Sub(v.last[e.ID]) < time.Second {
		return
	}
	v.last[e.ID] = now
	pct := 100.0
	if e.Total > 0 {
		pct = float64(e.Bytes) * 100 / float64(e.Total)
	}
	line := fmt.Sprintf("* %s %s: %s of %s (%.0f%%) at %s/s", verb(e.Incoming), orDash(e.File), formatBytes(e.Bytes), formatBytes(e.Total), pct, formatBytes(int64(e.Rate)))
	if !final && e.ETA > 0 {
		line += ", ETA " + e.ETA.Round(time.Second).String()
	}
	if final {
		line = fmt.Sprintf("* transfer %s: %s in place, %s moved in this run at %s/s", shortID(e.ID), formatBytes(e.Bytes), formatBytes(e.Moved), formatBytes(int64(e.Rate)))
	}
	v.out.event(nil, line)
}

// drawBar moves the bar of the file being moved (a new bar when the file changes).
func (v *transferView) drawBar(e app.TransferProgress) {
	o, ok := v.offers[e.ID]
	if !ok || e.File == "" {
		return
	}
	var off, size int64 = 0, -1
	for _, f := range o.Files {
		if f.Path == e.File {
			size = f.Size
			break
		}
		off += f.Size
	}
	if size < 0 {
		return
	}
	key := e.ID + "/" + e.File
	if key != v.barKey {
		v.endBar()
		v.barKey = key
		v.bar = progressbar.NewOptions64(size,
			progressbar.OptionSetWriter(v.bars),
			progressbar.OptionSetDescription(verb(e.Incoming)+" "+e.File),
			progressbar.OptionShowBytes(true),
			progressbar.OptionUseIECUnits(true),
			progressbar.OptionSetWidth(30),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(v.bars) }),
		)
	}
	_ = v.bar.Set64(min(max(e.Bytes-off, 0), size))
}

// endBar ends the current bar where it is.
func (v *transferView) endBar() {
	if v.bar != nil && !v.bar.IsFinished() {
		_ = v.bar.Exit()
	}
	v.bar, v.barKey = nil, ""
}

func (v *transferView) done(e app.TransferDone) {
	if v.bar != nil && v.barKey == e.ID+"/"+e.Path {
		_ = v.bar.Finish() // draws it full and ends its line
		v.bar, v.barKey = nil, ""
	} else {
		v.endBar()
	}
	what := "sent"
	if e.Incoming {
		what = "received " + joinPath(v.dir, e.Path)
	} else {
		what += " " + e.Path
	}
	line := fmt.Sprintf("* %s (%s), SHA-256 %s verified", what, formatBytes(e.Size), e.SHA256)
	if e.Last {
		line += fmt.Sprintf(" — transfer %s complete", shortID(e.ID))
		delete(v.offers, e.ID)
		delete(v.last, e.ID)
	}
	v.out.event(evTransferDone{Type: "transfer-done", ID: e.ID, Peer: e.Peer, Incoming: e.Incoming, Path: e.Path, Size: e.Size, SHA256: e.SHA256, Last: e.Last}, line)
}

// transferErrorEvent renders a failed transfer.
func transferErrorEvent(e *app.TransferError) evTransferError {
	msg := ""
	if e.Err != nil {
		msg = e.Err.Error()
	}
	return evTransferError{Type: "transfer-error", ID: e.ID, Peer: e.Peer, Incoming: e.Incoming, Path: e.Path, Code: e.Code, Error: msg}
}

// transferErrorLine says what went wrong with a transfer, for humans.
func transferErrorLine(peerName string, e *app.TransferError) string {
	why := ""
	if e.Err != nil {
		why = e.Err.Error()
	}
	if e.Path != "" {
		why = e.Path + ": " + why
	}
	what := map[string]string{
		app.XferRefused:       "the receiver refused the files",
		app.XferNotReceiving:  "the receiver takes no files (it has no receive directory: `vtpeer join ROOM --receive-dir DIR`)",
		app.XferTooLarge:      "a file is larger than the receiver takes",
		app.XferUnsafePath:    "a file name could leave the receive directory",
		app.XferExists:        "a file of that name is already in the receive directory",
		app.XferBadManifest:   "the offer does not decode",
		app.XferBadChunk:      "a chunk did not authenticate or does not fit the offer",
		app.XferHashMismatch:  "a file's SHA-256 is not the one offered (nothing was put in place)",
		app.XferDiskFull:      "the receiver's disk is full (the .part is kept: free space and send again to resume)",
		app.XferIO:            "a file system error",
		app.XferInterrupted:   "interrupted (send the same files again to resume)",
		app.XferCancelled:     "cancelled",
		app.XferSourceChanged: "a file changed on the sender's disk since the offer",
	}[e.Code]
	if what == "" {
		what = "failed"
	}
	dir := "to"
	if e.Incoming {
		dir = "from"
	}
	line := fmt.Sprintf("transfer %s %s %s: %s (%s)", shortID(e.ID), dir, peerName, what, e.Code)
	if why != "" && why != what {
		line += ": " + why
	}
	return line
}

// describeFiles is "3 files, 20.0 MiB: a.txt (6 B), …" (at most five names).
func describeFiles(files []app.FileEntry, total int64) string {
	var names []string
	for i, f := range files {
		if i == 5 {
			names = append(names, fmt.Sprintf("and %d more", len(files)-5))
			break
		}
		names = append(names, fmt.Sprintf("%s (%s)", f.Path, formatBytes(f.Size)))
	}
	n := "1 file"
	if len(files) != 1 {
		n = fmt.Sprintf("%d files", len(files))
	}
	return fmt.Sprintf("%s, %s: %s", n, formatBytes(total), strings.Join(names, ", "))
}

func verb(incoming bool) string {
	if incoming {
		return "receiving"
	}
	return "sending"
}

func joinPath(dir, p string) string {
	if dir == "" {
		return p
	}
	return strings.TrimSuffix(dir, "/") + "/" + p
}

func nonNilFiles(fs []app.FileEntry) []app.FileEntry {
	if fs == nil {
		return []app.FileEntry{}
	}
	return fs
}
