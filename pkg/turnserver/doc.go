// Package turnserver is vtpeer's embedded TURN server (RFC 8656, on
// github.com/pion/turn/v5): the relay of last resort for two peers whose NATs
// or firewalls allow no direct path.
//
// # Credentials
//
// It accepts only short-lived credentials in the TURN REST convention
// (draft-uberti-behave-turn-rest, coturn's use-auth-secret):
//
//	username   = "<unix-expiry>:<peerId>"
//	credential = base64(HMAC-SHA1(secret, username))
//
// The signaling server hands them out, with Credentials or
// Server.Credentials, to peers that joined a room (and, with JWT, proved who
// they are). The TURN server needs no list of users: it recomputes the
// credential from the username and refuses a username whose expiry has
// passed. The password never travels; the client proves it knows it with
// STUN MESSAGE-INTEGRITY, which pion/stun checks with hmac.Equal (constant
// time). Expiry is checked on every authenticated request, so an allocation
// cannot be refreshed past its credential's expiry: pick a TTL longer than a
// session.
//
// # Lockdown
//
// A relay must not become a way into the server's own network:
//   - relaying to loopback, private (RFC 1918, fc00::/7), shared (100.64/10)
//     and link-local peers is refused unless Options.AllowLoopback;
//     multicast, broadcast and unspecified peers are always refused
//     (CreatePermission and ChannelBind answer 403);
//   - the server's own relay address is granted, so that two peers that
//     both need a relay can talk relay to relay, but each datagram to or
//     from it passes only if its port is a live allocation of this server:
//     the server's other ports stay out of reach;
//   - only UDP relays: RFC 6062 TCP allocations are refused (clients may
//     still reach the server over TCP, which is what ?transport=tcp means);
//   - per user (the peerId in the username) at most
//     Options.MaxAllocationsPerUser allocations at once (486 Allocation
//     Quota Reached) and Options.UserBandwidth bytes per second through all
//     of the user's relays, both directions together: a token bucket
//     (golang.org/x/time/rate) with one second of burst; a datagram over
//     the budget is dropped, as a congested link would.
//
// # Sockets and lifetime
//
// The caller may pass its own sockets (Options.PacketConn, Options.Listener);
// otherwise New opens UDP and TCP listeners on the same port of Options.Addr.
// Either way the Server owns them from then on, and Close closes them, every
// relay and every TCP client connection, and waits until every reader has
// returned.
package turnserver
