// Package web serves the VeryTippers P2P page that `vtpeer serve` hosts: the
// files under static/, embedded in the binary, so the page works offline
// with no build step and no CDN.
//
// Handler is an http.Handler for plain GET and HEAD requests. It never
// listens on its own and never answers WebSocket upgrades: the caller (cmd)
// mounts it beside the signaling server and sends upgrades there.
//
//	GET /              the page (static/index.html)
//	GET /p2p           the page again (the original client's path)
//	GET /config.json   {"signalPath":"/ws","version":"…"}: where the page
//	                   opens its signaling WebSocket, and the content version
//	                   (with Options.SignalURLs also "signal":"ws://a/ws,…":
//	                   the servers it connects to, in order, failing over)
//	GET /js/app.js …   the other files under static/, by exact name
//
// Every response carries a strict Content-Security-Policy (no inline
// script; connect-src limited to this server, its ws:// and wss:// URLs
// included, since 'self' does not cover them in every browser),
// X-Content-Type-Options: nosniff and Referrer-Policy: no-referrer. Files
// have an explicit MIME type (JavaScript modules are text/javascript),
// a strong ETag over the whole embedded tree, and Cache-Control: no-cache,
// so a browser revalidates with If-None-Match and gets 304 until the
// binary changes. Directories are never listed; paths with dot segments,
// backslashes or encoded slashes are refused with 400.
package web
