package signal

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any goroutine outlives its test, i.e. if a
// Server or Client Close left one running.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
