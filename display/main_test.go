package display_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The hub's writers, pinger and follower end on Close, and so do the
// screens' readers. (fasthttp's worker-pool cleaner sleeps up to 10 s after
// the server shut down before it sees the stop, and its Date header updater
// runs for the life of the process once a response carried a Date: both are
// fasthttp's, not ours.)
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"))
}
