// Package browsertest starts a real headless Chromium for Go tests and
// drives its tabs through chromedp. It is test support: only _test.go files
// import it (cmd/vtpeer/layers_test.go keeps it so).
//
//	b := browsertest.Start(t)              // skips outside CI when no browser is installed
//	alice := b.NewTab(t, "alice")          // own browser context: own storage, like a separate profile
//	bob := b.NewTab(t, "bob")
//	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
//	defer cancel()
//	if err := alice.Navigate(ctx, pageURL+"#lobby"); err != nil { t.Fatal(err) }
//	n, err := browsertest.WaitFor[int](ctx, alice, `document.querySelectorAll("li.peer").length`)
//	title, err := browsertest.Eval[string](ctx, bob, `document.title`)
//
// The browser is found at $VTPEER_CHROMIUM, else the first of chromium,
// chromium-browser, google-chrome, google-chrome-stable on $PATH (or
// /usr/bin/chromium). Without one the test is skipped with a message saying
// how to install it — unless $CI is set (and not "false" or "0"): in CI a
// missing browser fails the test.
//
// Chromium runs headless with a fresh --user-data-dir, --no-sandbox when
// running as root, and --disable-features=WebRtcHideLocalIpsWithMdns (so
// its ICE candidates are addresses a Go peer can use, not mDNS names pion
// does not resolve) and --allow-loopback-in-peer-connection (loopback
// candidates, for tests over 127.0.0.1). Every console message and
// uncaught exception of a tab goes to the test log, prefixed by the tab's
// name; Tab.Exceptions returns the uncaught ones so a test can assert
// there were none.
package browsertest
