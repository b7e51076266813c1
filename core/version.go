package core

import (
	"runtime/debug"
	"strings"
	"sync"
)

// ProtocolVersion is the wire protocol's version (api.md: /health reported
// the constant 1.0.0); builds without a version of their own report it.
const ProtocolVersion = "1.0.0"

// buildVersion is stamped by release builds:
// go build -ldflags "-X github.com/cueapi/cueapi/core.buildVersion=v1.2.3".
var buildVersion string

var version = sync.OnceValue(func() string {
	if buildVersion != "" {
		return buildVersion
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ProtocolVersion
	}
	return versionFrom(bi)
})

// Version is the one version string of this binary — `cueapi version`,
// /health, logs and metrics all report it: the stamped version, else the
// module version (go install …@v1.2.3), else the protocol version with the
// VCS revision as build metadata (1.0.0+3f2a9c1b7d4e, "-dirty" when
// modified), else the protocol version.
func Version() string { return version() }

func versionFrom(bi *debug.BuildInfo) string {
	if v := bi.Main.Version; v != "" && v != "(devel)" && !strings.Contains(v, "+dirty") {
		return v
	}
	var rev string
	var dirty bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return ProtocolVersion
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += ".dirty"
	}
	return ProtocolVersion + "+" + rev
}
