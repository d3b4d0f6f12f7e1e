package lockcheck

import (
	"github.com/buildwall/buildwall/internal/finding"
)

var installScriptRule = finding.Rule{
	ID:       "install-script",
	Severity: finding.SeverityMedium,
	Summary:  "The package runs preinstall/install/postinstall scripts when installed.",
	Fix:      "Review the package's install scripts; allowlist it in scan.install-scripts.allow or install with --ignore-scripts.",
	Help: "Install scripts run arbitrary code on the build machine with its secrets; they are how most npm malware " +
		"(plain-crypto-js, Shai-Hulud) executes. Packages that legitimately need them (native binaries) can be listed " +
		"under `scan.install-scripts.allow` in buildwall.yml.",
}

var installScript = Rule{Rule: installScriptRule, CheckLockfile: checkInstallScript}

func checkInstallScript(c *Context, report func(finding.Finding)) {
	for i := range c.Lockfile.Packages {
		p := &c.Lockfile.Packages[i]
		setting := c.BuildAllowed[p.Name]
		if (!p.InstallScript && setting == "") || (c.Config != nil && c.Config.InstallScriptAllowed(p.Name)) {
			continue
		}
		msg := label(p) + " runs install scripts (preinstall/install/postinstall) when installed"
		if setting != "" {
			msg = label(p) + " may run install scripts when installed: " + setting + " allows it"
		}
		fix := "Review " + p.Name + "'s install scripts; if it needs them add it to scan.install-scripts.allow in buildwall.yml, else install with --ignore-scripts."
		report(c.pkgFinding(&installScriptRule, p, msg, fix))
	}
}
