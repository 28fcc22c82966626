package notify

import (
	"testing"

	"go.uber.org/goleak"
)

// Every delivery loop ends when Run returns.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
