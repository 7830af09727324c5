// Package signal is vtpeer's signaling layer: the wire frames, a Server that
// relays them between the members of a room, and a Client with reconnection.
//
// The protocol is JSON text frames over a WebSocket; docs/PROTOCOL.md is its
// prose twin. The existing VeryTippers browser client speaks a subset of it
// unchanged:
//
//	client A                 server                  client B
//	  |--- join {room} ------->|                        |
//	  |<-- joined {peerId,     |                        |
//	  |     peers,iceServers} -|<------- join {room} ---|
//	  |<-- peer-joined {B} ----|-- joined {peers:[A]} ->|
//	  |--- offer {room,data} ->|-- offer {from:A,data} >|
//	  |<- answer {from:B,data}-|<-- answer {room,data} -|
//	  |--- ice ... ----------->|-- ice ... ------------>|
//
// Every frame other than join and leave is relayed to the other members of
// the sender's room (or only to "to"), with "from" added and "data" byte for
// byte as sent. Errors come back as {"type":"error","code":…,"error":…}.
//
// The Server is an http.Handler and listens nowhere itself; limits (frame
// size, rate, connections per IP, rooms, members, ping and write timeouts),
// an Origin allow-list and optional JWT authentication are set in
// ServerOptions. An idle connection costs one goroutine and small buffers.
// The caller's http.Server should use Server.ConnState (caps on connections
// not yet upgraded, cut on Close) and serve Server.Listener(ln) (failed
// accepts counted and logged).
package signal
