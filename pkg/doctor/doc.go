// Package doctor answers "why can't I connect?": it runs one checklist
// against a signaling server, the network between this machine and the
// server's STUN/TURN servers, and this machine itself, and says for each
// check whether it is ok, a warning or a failure, with the fix in one
// sentence.
//
// The checks, in order:
//
//	server   dns, tcp, tls (wss:// only), healthz, websocket (join and leave),
//	         protocol, token
//	network  nat (STUN bindings from two local sockets through the server's
//	         advertised ICE servers), turn-udp, turn-tcp (allocations with the
//	         credentials the server hands out, and a datagram relayed between
//	         them), datachannel (two in-process peers forced onto relay
//	         candidates exchange a message through the TURN server)
//	machine  udp-buffers, open-files, clock (against the server's Date
//	         header), home (VTPEER_HOME writable, its databases not locked),
//	         keystore (accounts, and whether the password unlocks)
//
// A check whose prerequisite failed is reported as skipped. The STUN and
// TURN probes speak pion/stun and pion/turn directly (they are client
// probes, not WebRTC); the DataChannel goes through pkg/peer, and the
// signaling through pkg/signal, so doctor exercises the same code as join.
package doctor
