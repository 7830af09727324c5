package turnserver

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // TURN REST credentials are HMAC-SHA1 by definition
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/pion/turn/v5"
)

// Credentials returns TURN REST credentials for peerID, valid until
// now+ttl: user = "<unix-expiry>:<peerID>" and pass =
// base64(HMAC-SHA1(secret, user)), what coturn's use-auth-secret (and this
// package's Server) accepts.
func Credentials(secret []byte, peerID string, ttl time.Duration, now time.Time) (user, pass string) {
	user = strconv.FormatInt(now.Add(ttl).Unix(), 10) + ":" + peerID
	return user, password(secret, user)
}

func password(secret []byte, user string) string {
	mac := hmac.New(sha1.New, secret)
	mac.Write([]byte(user))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Credentials returns credentials for peerID signed with the server's
// secret; see the package function Credentials.
func (s *Server) Credentials(peerID string, ttl time.Duration, now time.Time) (user, pass string) {
	return Credentials(s.secret, peerID, ttl, now)
}

// parseUser splits a TURN REST username into its expiry and peer id.
func parseUser(user string) (expiry int64, peerID string, ok bool) {
	if len(user) > maxUsernameLen {
		return 0, "", false
	}
	exp, id, ok := strings.Cut(user, ":")
	if !ok || id == "" {
		return 0, "", false
	}
	expiry, err := strconv.ParseInt(exp, 10, 64)
	if err != nil {
		return 0, "", false
	}
	return expiry, id, true
}

// authenticate is the pion AuthHandler: it refuses a malformed or expired
// username and a foreign realm, and otherwise returns the long-term key
// MD5(user:realm:password) that pion checks MESSAGE-INTEGRITY with
// (hmac.Equal, constant time). A forged password fails that check, which
// pion reports through EventHandler.OnAuth.
func (s *Server) authenticate(ra *turn.RequestAttributes) (userID string, key []byte, ok bool) {
	expiry, id, ok := parseUser(ra.Username)
	switch {
	case !ok:
		s.authFailed(ra, "malformed username")
		return "", nil, false
	case ra.Realm != s.realm:
		s.authFailed(ra, "wrong realm")
		return "", nil, false
	case s.now().Unix() >= expiry:
		s.authFailed(ra, "expired")
		return "", nil, false
	}
	return id, turn.GenerateAuthKey(ra.Username, ra.Realm, password(s.secret, ra.Username)), true
}

func (s *Server) authFailed(ra *turn.RequestAttributes, why string) {
	s.metrics.authFailures.Inc()
	if s.logLimit.Allow() {
		s.log.Debug("turn auth refused", "reason", why, "src", ra.SrcAddr.String())
	}
}
