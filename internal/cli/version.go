package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/buildwall/buildwall/internal/advisory"
)

// Commit and BuildDate may be set at build time with -ldflags "-X
// github.com/buildwall/buildwall/internal/cli.Commit=..."; otherwise they
// come from the VCS stamp Go records (absent with -buildvcs=false).
var (
	Commit    = ""
	BuildDate = ""
)

// versionText is what --version prints: version, commit, build date, Go
// version and the embedded malicious-package database's size and date.
func versionText(info *debug.BuildInfo, ok bool) string {
	version, commit, date, modified := Version, Commit, BuildDate, false
	if ok {
		if version == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			version = info.Main.Version
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				if commit == "" {
					commit = s.Value
				}
			case "vcs.time":
				if date == "" {
					date = s.Value + " (commit time)"
				}
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if commit == "" {
		commit = "unknown (built without VCS information)"
	} else if modified {
		commit += " (with uncommitted changes)"
	}
	if date == "" {
		date = "unknown"
	}
	st := advisory.Embedded().Status()
	var b strings.Builder
	fmt.Fprintf(&b, "buildwall %s\n", version)
	fmt.Fprintf(&b, "commit: %s\n", commit)
	fmt.Fprintf(&b, "built: %s\n", date)
	fmt.Fprintf(&b, "go: %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(&b, "embedded malicious-package database: %d records, newest %s\n", st.Records, dateOf(st.Newest))
	return b.String()
}
