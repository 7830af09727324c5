package signal

import (
	"encoding/json"
	"errors"
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

// A hand-over that fails because the store is unavailable (a clustered
// store during a leader election) is retried while the member stays in the
// room: first after mailRetryFirst, each wait twice the one before up to
// mailRetryMax, for mailRetryFor at most; then the mail waits in the store
// for the member's next join.
const (
	mailRetryFirst = 250 * time.Millisecond
	mailRetryMax   = 4 * time.Second
	mailRetryFor   = 2 * time.Minute
)

// handOverMail sends a peer that joined with a mailbox id the mail kept
// for it in that room. The store forgets it as it is handed over. When
// the store is unavailable the hand-over is retried (retryMail) while c
// stays in the room from this join.
func (s *Server) handOverMail(c *conn, room, mailboxID string) {
	s.mu.Lock()
	c.mailJoin++ // a retry of an earlier join's hand-over stops
	join, id := c.mailJoin, c.id
	s.mu.Unlock()
	if s.opts.Mail == nil || mailboxID == "" {
		return
	}
	err := s.takeMail(c, room, mailboxID)
	switch {
	case err == nil:
	case errors.Is(err, ErrUnavailable):
		s.log.Warn("reading a mailbox failed: retrying while the member stays", "peer", id, "err", err, "retry_in", mailRetryFirst)
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.closed {
			return
		}
		s.wg.Add(1)
		go s.retryMail(c, id, room, mailboxID, join)
	default:
		s.log.Warn("reading a mailbox failed", "peer", id, "err", err)
	}
}

// takeMail takes the mail kept for mailboxID in room and sends it to c.
func (s *Server) takeMail(c *conn, room, mailboxID string) error {
	blobs, err := s.opts.Mail.Take(room, mailboxID)
	if err != nil {
		return err
	}
	for _, b := range blobs {
		data, err := json.Marshal(b)
		if err != nil {
			continue
		}
		c.sendFrame(Frame{Type: TypeMail, Room: room, Data: data})
		s.m.mailOut.Inc()
	}
	return nil
}

// retryMail retries the hand-over of join (c.mailJoin; id is the member's
// peer id then) with backoff until it succeeds, fails for another reason
// than ErrUnavailable, c is no longer in room from that join (it left,
// joined again or closed), the Server closes or mailRetryFor has passed.
// A Take under way when the Server closes is waited for (the store bounds
// it). As at the join, mail taken while the member's connection drops is
// lost with it.
func (s *Server) retryMail(c *conn, id, room, mailboxID string, join uint64) {
	defer s.wg.Done()
	start := time.Now()
	wait := mailRetryFirst
	t := time.NewTimer(wait)
	defer t.Stop()
	for attempt := 2; ; attempt++ {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		s.mu.Lock()
		stays := c.room != nil && c.room.name == room && c.mailJoin == join
		s.mu.Unlock()
		if !stays {
			s.log.Debug("mail hand-over retry ends: the member left", "peer", id, "attempts", attempt-1)
			return
		}
		err := s.takeMail(c, room, mailboxID)
		switch {
		case err == nil:
			s.log.Info("mail handed over after a retry", "peer", id, "attempts", attempt, "after", time.Since(start).Round(time.Millisecond))
			return
		case !errors.Is(err, ErrUnavailable):
			s.log.Warn("reading a mailbox failed", "peer", id, "attempts", attempt, "err", err)
			return
		case time.Since(start)+wait > mailRetryFor:
			s.log.Warn("reading a mailbox failed: gave up retrying, the mail waits for the member's next join",
				"peer", id, "attempts", attempt, "after", time.Since(start).Round(time.Millisecond), "err", err)
			return
		}
		wait = min(2*wait, mailRetryMax)
		s.log.Debug("reading a mailbox failed: retrying", "peer", id, "attempts", attempt, "err", err, "retry_in", wait)
		t.Reset(wait)
	}
}
