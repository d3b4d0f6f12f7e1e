package cicheck

import (
	"fmt"
	"strings"

	"github.com/buildwall/buildwall/internal/ciconfig"
	"github.com/buildwall/buildwall/internal/finding"
)

// ImageEcosystem is the finding package ecosystem of container images.
const ImageEcosystem = "docker"

// imagePackage is the finding package of an image reference.
func imagePackage(im ciconfig.Image) *finding.Package {
	return &finding.Package{Ecosystem: ImageEcosystem, Name: im.Name, Version: im.Tag}
}

// checkUnpinnedImageDockerfile reports every FROM whose base is an image
// (not scratch, not an earlier stage) without a sha256 digest, after
// substituting the global ARGs' defaults; a base built from an ARG without
// default cannot be resolved and is reported with a note. COPY/ADD
// --from=<image> and RUN --mount=from=<image> pull images too and are
// checked alike.
func checkUnpinnedImageDockerfile(c *Context, d *ciconfig.Dockerfile, report func(finding.Finding)) {
	for _, st := range d.Stages {
		if st.Scratch || st.Base >= 0 {
			continue
		}
		what := fmt.Sprintf("FROM (stage %d", st.Index)
		if st.Name != nil {
			what += " " + st.Name.Value
		}
		what += ")"
		if len(st.Unresolved) > 0 {
			report(c.at(&unpinnedImageRule, st.Image.Pos,
				what+" uses image "+st.Image.Value+", which cannot be resolved statically: ARG "+strings.Join(st.Unresolved, ", ")+
					" has no default; whoever passes --build-arg decides the base image",
				"Give the ARG a default pinned by digest (ARG "+st.Unresolved[0]+"=name:tag@sha256:<digest>) or write the pinned image in FROM."))
			continue
		}
		via := ""
		if st.Resolved != st.Image.Value {
			via = " (" + st.Image.Value + " with the ARG defaults)"
		}
		dockerImage(c, st.Image.Pos, what, st.Resolved, via, report)
	}
	for _, in := range d.Instructions {
		for _, f := range in.Flags {
			ref := ""
			switch {
			case (in.Cmd == "COPY" || in.Cmd == "ADD") && f.Name == "from":
				ref = f.Value.Value
			case in.Cmd == "RUN" && f.Name == "mount":
				ref = mountFrom(f.Value.Value)
			}
			if ref == "" || d.StageRef(ref, in) || strings.Contains(ref, "$") {
				continue
			}
			if !strings.ContainsAny(ref, "/:.@") {
				// A bare word that is no stage: a build context passed with
				// --build-context, or a Docker Hub image; only report images
				// that look like one.
				continue
			}
			dockerImage(c, f.Value.Pos, in.Cmd+" --"+f.Name, ref, "", report)
		}
	}
}

// mountFrom returns the from= option of a --mount value.
func mountFrom(v string) string {
	for opt := range strings.SplitSeq(v, ",") {
		if s, ok := strings.CutPrefix(opt, "from="); ok {
			return s
		}
	}
	return ""
}

func dockerImage(c *Context, p ciconfig.Pos, what, ref, via string, report func(finding.Finding)) {
	im := ciconfig.ParseImage(ref)
	if im.Pinned() {
		return
	}
	f := c.at(&unpinnedImageRule, p,
		what+" uses image "+ref+via+" without a sha256 digest; whoever controls the tag decides what is built",
		"Pin the image by digest: "+im.Name+tagPart(im)+"@sha256:<digest> (`buildwall pin` resolves it).")
	f.Package = imagePackage(im)
	report(f)
}

// checkUnpinnedImageGitLab reports image: and services: (in default: and
// in jobs) without a sha256 digest. $VARIABLES are substituted from the
// job's and the top-level variables:; a reference that still holds one
// (a predefined CI variable) is reported with a note unless it carries a
// digest.
func checkUnpinnedImageGitLab(c *Context, g *ciconfig.GitLabCI, report func(finding.Finding)) {
	jobs := g.Jobs
	if g.Default != nil {
		jobs = append([]*ciconfig.GitLabJob{g.Default}, jobs...)
	}
	seen := map[ciconfig.Pos]bool{} // YAML aliases share nodes: report once
	for _, j := range jobs {
		// The job's variables: override the top-level ones.
		vars := func(name string) (*string, bool) {
			for _, m := range []map[string]string{j.Variables, g.Variables} {
				if v, ok := m[name]; ok {
					return &v, true
				}
			}
			return nil, false
		}
		if j.Image != nil && !seen[j.Image.Pos] {
			seen[j.Image.Pos] = true
			gitlabImage(c, j.Image, "job "+j.Name.Value+" image", vars, report)
		}
		for _, s := range j.Services {
			if seen[s.Pos] {
				continue
			}
			seen[s.Pos] = true
			gitlabImage(c, s, "job "+j.Name.Value+" service", vars, report)
		}
	}
}

func gitlabImage(c *Context, img *ciconfig.String, what string, vars func(string) (*string, bool), report func(finding.Finding)) {
	v := strings.TrimSpace(img.Value)
	if v == "" {
		return
	}
	resolved, missing := ciconfig.ExpandVars(v, vars)
	if len(missing) > 0 {
		if ciconfig.ParseImage(v).Pinned() {
			return
		}
		report(c.at(&unpinnedImageRule, img.Pos,
			what+" uses image "+v+", which cannot be resolved statically ($"+strings.Join(missing, ", $")+" is set at run time) and carries no sha256 digest",
			"Write the image with a digest (name:tag@sha256:<digest>), or make sure the variable holds a digest-pinned reference."))
		return
	}
	via := ""
	if resolved != v {
		via = " (" + v + " with the variables:)"
	}
	im := ciconfig.ParseImage(resolved)
	if im.Pinned() {
		return
	}
	f := c.at(&unpinnedImageRule, img.Pos,
		what+" uses image "+resolved+via+" without a sha256 digest; whoever controls the tag decides what runs",
		"Pin the image by digest: "+im.Name+tagPart(im)+"@sha256:<digest> (`buildwall pin` resolves it).")
	f.Package = imagePackage(im)
	report(f)
}
