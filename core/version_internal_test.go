package core

import (
	"runtime/debug"
	"testing"
)

func TestVersionFrom(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		bi   debug.BuildInfo
		want string
	}{
		"module version": {debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}}, "v1.4.0"},
		"devel, no vcs":  {debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, ProtocolVersion},
		"devel with vcs": {debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "3f2a9c1b7d4e5f60718293a4b5c6d7e8f9012345"}, {Key: "vcs.modified", Value: "true"}}}, "1.0.0+3f2a9c1b7d4e.dirty"},
		"pseudo dirty": {debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-2026+dirty"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "abc"}}}, "1.0.0+abc"},
	} {
		t.Run(name, func(t *testing.T) {
			if got := versionFrom(&tc.bi); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}
