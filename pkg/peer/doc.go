// Package peer is vtpeer's Pion DataChannel mesh: one sealed, reliable session per peer in a room.
//
// Layers, bottom up:
//
//   - transport (link): one webrtc.PeerConnection with one ordered, reliable DataChannel labelled
//     "verytippers-data", trickle ICE over the caller's Signaler — or a server relay transport
//     through the Signaler itself (see Paths). The member that joins later
//     offers to every member listed in its joined frame, so there is no glare. A link can die
//     and be replaced; it never comes back.
//   - seal: when the DataChannel opens both sides run the pkg/seal handshake in text messages,
//     bound to the DTLS certificates really seen (SHA-256 of the DER from
//     DTLSTransport.GetRemoteCertificate); every later message is a binary sealed frame.
//   - session (peerState): application frames inside the seal carry per-peer sequence numbers and
//     cumulative acks. The sender keeps unacknowledged messages (its resend queue, bounded by
//     MaxOutboxBytes) and resends them on a new link;
//     the receiver drops what it already delivered: exactly once, in order, across transports.
//
// Session start on each link (after the seal handshake), and when PeerConnected is emitted:
//
//	offerer                                        answerer
//	|  hello{commit,fp} / hello{key,fp} / reveal (text, pkg/seal)  |
//	|  sealed start{instance, base, identity|none}  ------------->  |
//	|  <-------------  sealed start{instance, base, identity|none}  |
//	each side: verify identity, check ExpectAddress → PeerConnected; resend unacked data
//	|  sealed data{seq,kind,body} ... / sealed ack{seq}            |
//
// Resilience: on ICE disconnected/failed the offerer restarts ICE (same PeerConnection); if ICE
// has not recovered within a bound (4 s) the link is torn down and the side that offered it
// negotiates a new PeerConnection (the other side asks for one with a "restart" signaling frame).
// Losing the signaling connection does not touch open DataChannels, and PeerLeft from signaling
// is informational. A handshake, seal or protocol failure is treated as an attack: an Error event
// is emitted, the link closed and the peer not reconnected.
//
// Sockets: pion opens the ICE UDP sockets of each PeerConnection (one per local address, as a
// browser does) through SettingEngine.SetNet with a network that gives each 4 MiB kernel
// read/write buffers (Options.UDPBufferSize; capped by net.core.rmem_max/wmem_max). Small
// default buffers drop datagrams under bulk load. There is no shared ICE UDP mux: pion's mux
// queues datagrams in the Go heap without bound when a PeerConnection's reader falls behind. mDNS is off, loopback candidates are
// included, and the ICE acceptance waits are zero so a peer-reflexive pair found before the
// trickled candidate is nominated at once instead of after 1 s.
//
// Paths (Options.Via; PeerConnected.Path and PathChanged report "direct", "turn" or "server"):
//
//   - "direct": host, server-reflexive and peer-reflexive candidates only: TURN servers are not
//     given to pion and trickled relay candidates are dropped.
//   - "turn": relay candidates only (ICETransportPolicyRelay).
//   - "server": no WebRTC. The seal handshake (without channel binding: no DTLS certificate to
//     bind, so the SAS and signed identities carry the authentication) and the sealed frames travel
//     through the signaling server as frames of type "relay" directed with `to`, data
//     {"gen":N,"t":"hello"|"sealed"|"close","b":base64url} (relay.go). A sealed frame is at most
//     RelayMaxFrame (40 KiB) so that the signaling frame stays under the server's 64 KiB; at most
//     256 KiB of sealed data is unacknowledged per relay transport, so a sender cannot flood the
//     server. A frame lost on the way (signaling reconnect) makes the next one fail to open, or
//     leaves data unacknowledged for 10 s: the relay transport is replaced (a new handshake that continues the session: same
//     SAS, PeerConnected again) and the reliable layer resends. A seal failure before the peer's
//     start frame opened is still treated as an attack. PeerLeft closes the relay transport; the
//     peer, whose signaling connection dropped, may still hold its end, so when it is back with its
//     id (PeerJoined, or Joined listing it) this side offers a new one whatever its role.
//   - "auto" (default): ICE as above (with TURN servers when given). The ICE offerer starts a
//     server relay transport if none is ready within P2PTimeout (default 10 s) and retries ICE
//     every max(3×P2PTimeout, 30 s) while the session runs over the relay. When ICE becomes ready
//     the session moves to it: its start frames, then the resend queue from the lowest unacknowledged
//     message, then the relay transport is closed. Each transport carries a contiguous run of
//     sequence numbers starting at or below the one the receiver expects next, and the receiver
//     drops what it already delivered, so it never sees a gap: no message is lost, duplicated or
//     reordered. Both sides emit PathChanged{From: "server", To: "direct"|"turn"}.
//
// In "auto" and "server" every message must fit the relay (RelayMaxFrame) whatever the current
// path, so that a queued message can always be resent on the other one.
//
// Metrics (Options.Registry; none by default):
//
//	vtpeer_peer_connection_attempts_total{transport="webrtc|server"}  transports started
//	vtpeer_peer_connections_total{path="direct|turn|server|failed"}     transport outcomes: ready over a
//	                                                                    path, or closed before ready
//	vtpeer_peer_fallbacks_total                                         auto: server relay started after P2PTimeout
//	vtpeer_peer_path_changes_total{from,to}                             live session moved between transports
//	vtpeer_peer_connect_seconds{path}                                   histogram: first attempt of a (re)connection
//	                                                                    → PeerConnected; for a move, the new
//	                                                                    transport's creation → PathChanged
//	vtpeer_peer_messages_total{direction="sent|received"}               application messages (Send accepted /
//	                                                                    delivered once)
//	vtpeer_peer_message_bytes_total{direction="sent|received"}          their body bytes
//
// The P2P success rate is (direct + turn) / attempts{transport="webrtc"}; a PeerConnection replaced
// before it was ready (glare, renegotiation) counts as failed.
//
// Only this package imports pion; it does not import pkg/signal or go-ethereum: the caller adapts
// its signaling client to Signaler and its account to Identity / VerifyIdentityFunc.
package peer
