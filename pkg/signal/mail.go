package signal

import (
	"encoding/json"
	"fmt"
	"time"

	"golang.org/x/time/rate"
)

// handleMail stores a member's mail deposit: {"type":"mail","room":R,
// "to":MAILBOX_ID,"data":"<base64 of the sealed blob>"}. The sender gets
// {"type":"mailed","to":MAILBOX_ID} or an error frame; nothing is relayed.
// Each connection's deposits are budgeted in bytes (MailRate, MailBurst).
func (s *Server) handleMail(c *conn, f Frame) {
	if s.opts.Mail == nil {
		c.sendError(CodeNoMail, "this server keeps no mail")
		return
	}
	s.mu.Lock()
	joined := c.room != nil && c.room.name == f.Room
	s.mu.Unlock()
	if !joined {
		c.sendError(CodeNotJoined, "join the room before depositing mail")
		return
	}
	var blob []byte
	if err := json.Unmarshal(f.Data, &blob); err != nil || len(blob) == 0 || f.To == "" {
		c.sendError(CodeBadFrame, "mail needs to (a mailbox id) and data (a base64 string)")
		return
	}
	if c.mailL == nil { // only the reader touches it
		c.mailL = rate.NewLimiter(s.opts.MailRate, s.opts.MailBurst)
	}
	if !c.mailL.AllowN(time.Now(), len(blob)) {
		c.sendError(CodeMailRateLimited, fmt.Sprintf("mail budget spent (%d bytes/s, burst %d); deposit later",
			int(s.opts.MailRate), s.opts.MailBurst))
		return
	}
	if err := s.opts.Mail.Put(f.Room, f.To, blob); err != nil {
		c.sendError(CodeMailRefused, fmt.Sprintf("mail refused: %v", err)) // sendError counts it
		return
	}
	s.m.mailIn.Inc()
	c.sendFrame(Frame{Type: TypeMailed, Room: f.Room, To: f.To})
}

// handOverMail sends a peer that joined with a mailbox id the mail kept
// for it in that room. The store forgets it as it is handed over.
func (s *Server) handOverMail(c *conn, room, mailboxID string) {
	if s.opts.Mail == nil || mailboxID == "" {
		return
	}
	blobs, err := s.opts.Mail.Take(room, mailboxID)
	if err != nil {
		s.log.Warn("reading a mailbox failed", "err", err)
		return
	}
	for _, b := range blobs {
		data, err := json.Marshal(b)
		if err != nil {
			continue
		}
		c.sendFrame(Frame{Type: TypeMail, Room: room, Data: data})
		s.m.mailOut.Inc()
	}
}
