package core_test

import (
	"testing"

	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/coretest"
)

func TestLocalFeedContract(t *testing.T) {
	t.Parallel()
	coretest.RunChangeFeedContract(t, func(t *testing.T) (a, b core.ChangeFeed) {
		f := core.NewLocalFeed()
		t.Cleanup(func() {
			if n := f.Subscribers(); n != 0 {
				t.Errorf("%d subscriptions left open", n)
			}
		})
		return f, f
	})
}
