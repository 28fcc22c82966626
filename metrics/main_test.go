package metrics

import (
	"testing"

	"go.uber.org/goleak"
)

// The event follower ends on Close.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
