package cluster

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine a store starts ends when it closes.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
