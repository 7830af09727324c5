//go:build cgo

package main

// cgoEnabled reports whether this binary was built with cgo, and so with
// go-ethereum's libsecp256k1 for signatures.
const cgoEnabled = true
