package web_test

import (
	"fmt"
	"io"
	"net/http/httptest"

	"github.com/verytippers/vtpeer/pkg/web"
)

// Serve the page and read its configuration.
func Example() {
	h, err := web.NewHandler(&web.Options{SignalPath: "/ws"})
	if err != nil {
		fmt.Println(err)
		return
	}
	hs := httptest.NewServer(h)
	defer hs.Close()
	resp, err := hs.Client().Get(hs.URL + "/p2p")
	if err != nil {
		fmt.Println(err)
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("X-Content-Type-Options"))
	// Output: 200 text/html; charset=utf-8 nosniff
}
