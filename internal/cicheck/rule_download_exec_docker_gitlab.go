package cicheck

import (
	"github.com/buildwall/buildwall/internal/ciconfig"
	"github.com/buildwall/buildwall/internal/finding"
)

// checkDownloadExecDockerfile runs DownloadExec over every RUN: its shell
// or exec form (continuation lines joined) and its heredoc bodies.
func checkDownloadExecDockerfile(c *Context, d *ciconfig.Dockerfile, report func(finding.Finding)) {
	for _, in := range d.Instructions {
		if in.Cmd != "RUN" {
			continue
		}
		scan := func(script string, base int) {
			for _, sp := range DownloadExec(script) {
				report(c.at(&downloadExecRule, d.PosOf(base+sp.Start),
					"RUN downloads and executes code without checking it: "+DownloadExecSnippet(script, sp),
					downloadExecRule.Fix))
			}
		}
		scan(in.Script, in.ArgsOffset)
		for _, h := range in.Heredocs {
			scan(h.Body, h.BodyOffset)
		}
	}
}

// checkDownloadExecGitLab runs DownloadExec over every before_script:,
// script: and after_script: entry of the defaults and the jobs.
func checkDownloadExecGitLab(c *Context, g *ciconfig.GitLabCI, report func(finding.Finding)) {
	jobs := g.Jobs
	if g.Default != nil {
		jobs = append([]*ciconfig.GitLabJob{g.Default}, jobs...)
	}
	seen := map[ciconfig.Pos]bool{} // YAML aliases share nodes: report once
	for _, j := range jobs {
		for _, s := range j.Scripts {
			if seen[s.Pos] {
				continue
			}
			seen[s.Pos] = true
			for _, sp := range DownloadExec(s.Value) {
				report(c.at(&downloadExecRule, g.Locate(s, sp.Start),
					"job "+j.Name.Value+" script downloads and executes code without checking it: "+DownloadExecSnippet(s.Value, sp),
					downloadExecRule.Fix))
			}
		}
	}
}
