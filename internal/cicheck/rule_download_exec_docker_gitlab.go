package cicheck

import (
	"strconv"
	"strings"

	"github.com/buildwall/buildwall/internal/ciconfig"
	"github.com/buildwall/buildwall/internal/finding"
)

// checkDownloadExecDockerfile runs DownloadExec over every RUN: its shell
// or exec form (continuation lines joined) and its heredoc bodies.
func checkDownloadExecDockerfile(c *Context, d *ciconfig.Dockerfile, report func(finding.Finding)) {
	var added []remoteAdd
	for _, in := range d.Instructions {
		if in.Cmd == "FROM" {
			added = added[:0] // a new stage starts from another file system
		}
		if in.Cmd == "ADD" {
			if a, ok := addOfURL(in); ok {
				added = append(added, a)
			}
			continue
		}
		if in.Cmd != "RUN" {
			continue
		}
		for _, a := range added[:min(len(added), maxDownloadedNames)] {
			es := executions(in.Script, 0, a.file)
			reportCapped(len(es), func(i int) finding.Finding {
				return c.at(&downloadExecRule, d.PosOf(in.ArgsOffset+es[i].Start),
					"RUN executes "+a.file+", downloaded from "+a.url+" by ADD at line "+strconv.Itoa(a.pos.Line)+" without a checksum",
					"Give the ADD a digest (ADD --checksum=sha256:<digest> URL DEST) or download and verify the file in the RUN (sha256sum -c) before running it.")
			}, report)
		}
		scan := func(script string, base int) {
			spans := DownloadExec(script)
			reportCapped(len(spans), func(i int) finding.Finding {
				return c.at(&downloadExecRule, d.PosOf(base+spans[i].Start),
					"RUN downloads and executes code without checking it: "+DownloadExecSnippet(script, spans[i]),
					downloadExecRule.Fix)
			}, report)
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
			spans := DownloadExec(s.Value)
			reportCapped(len(spans), func(i int) finding.Finding {
				return c.at(&downloadExecRule, g.Locate(s, spans[i].Start),
					"job "+j.Name.Value+" script downloads and executes code without checking it: "+DownloadExecSnippet(s.Value, spans[i]),
					downloadExecRule.Fix)
			}, report)
		}
	}
}

// remoteAdd is an ADD of a URL: the file it writes and where.
type remoteAdd struct {
	url, file string
	pos       ciconfig.Pos
}

// addOfURL recognises `ADD [flags] http(s)://… DEST` without --checksum
// and returns the file it creates (DEST, or DEST/<last URL segment> when
// DEST ends in /).
func addOfURL(in *ciconfig.Instruction) (remoteAdd, bool) {
	for _, f := range in.Flags {
		if f.Name == "checksum" {
			return remoteAdd{}, false
		}
	}
	args := in.Argv
	if !in.Exec {
		args = strings.Fields(in.Script)
	}
	if len(args) != 2 || !(strings.HasPrefix(args[0], "https://") || strings.HasPrefix(args[0], "http://")) {
		return remoteAdd{}, false
	}
	url, dest := args[0], args[1]
	if strings.HasSuffix(dest, "/") {
		name := url[strings.LastIndexByte(url, '/')+1:]
		if i := strings.IndexAny(name, "?#"); i >= 0 {
			name = name[:i]
		}
		if name == "" {
			return remoteAdd{}, false
		}
		dest += name
	}
	if cleanFile(dest) == "" {
		return remoteAdd{}, false
	}
	return remoteAdd{url: url, file: dest, pos: in.Pos}, true
}
