// Command vtpeer exchanges end-to-end encrypted chat and signed VERY tips
// peer to peer, and runs the signaling server that introduces the peers.
package main

import "os"

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
