package core_test

import (
	"regexp"
	"testing"

	"github.com/cueapi/cueapi/core"
)

// TestNewUUIDIsVersion4 holds NewUUID to the canonical lowercase form of a
// random (version 4, RFC 4122 variant) UUID, fresh on every call.
func TestNewUUIDIsVersion4(t *testing.T) {
	v4 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for range 1000 {
		id := core.NewUUID()
		if !v4.MatchString(id) || !core.IsUUID(id) {
			t.Fatalf("NewUUID() = %q: not a canonical version 4 UUID", id)
		}
		if seen[id] {
			t.Fatalf("NewUUID() repeated %q", id)
		}
		seen[id] = true
	}
}
