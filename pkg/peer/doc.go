// Package peer is vtpeer's Pion DataChannel mesh: one sealed, reliable session per peer in a room.
//
// Layers, bottom up:
//
//   - transport (link): one webrtc.PeerConnection with one ordered, reliable DataChannel labelled
//     "verytippers-data", trickle ICE over the caller's Signaler. The member that joins later
//     offers to every member listed in its joined frame, so there is no glare. A link can die
//     and be replaced; it never comes back.
//   - seal: when the DataChannel opens both sides run the pkg/seal handshake in text messages,
//     bound to the DTLS certificates really seen (SHA-256 of the DER from
//     DTLSTransport.GetRemoteCertificate); every later message is a binary sealed frame.
//   - session (peerState): application frames inside the seal carry per-peer sequence numbers and
//     cumulative acks. The sender keeps unacknowledged messages and resends them on a new link;
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
// Sockets: each Node opens one UDP socket (all interfaces) with 4 MiB kernel read/write buffers
// (Options.UDPBufferSize; capped by net.core.rmem_max/wmem_max) and hands it to pion through
// webrtc.NewICEUDPMux and SettingEngine.SetICEUDPMux: every PeerConnection of the Node shares it.
// Small default buffers drop datagrams under bulk load. mDNS is off, loopback candidates are
// included, and the ICE acceptance waits are zero so a peer-reflexive pair found before the
// trickled candidate is nominated at once instead of after 1 s.
//
// Only this package imports pion; it does not import pkg/signal or go-ethereum: the caller adapts
// its signaling client to Signaler and its account to Identity / VerifyIdentityFunc.
package peer
