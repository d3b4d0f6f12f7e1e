package cicheck

import (
	"strings"

	"github.com/buildwall/buildwall/internal/ciconfig"
	"github.com/buildwall/buildwall/internal/finding"
)

var unpinnedImageRule = finding.Rule{
	ID:       "unpinned-image",
	Severity: finding.SeverityMedium,
	Summary:  "A container image (container:, services:, Dockerfile FROM, GitLab image:) is referenced without an @sha256: digest.",
	Fix:      "Pin the image by digest: name:tag@sha256:<digest> (buildwall pin resolves it).",
	Help: "An image tag is a mutable pointer: whoever can push to the repository (or compromises it) decides what runs next time. " +
		"A digest names exactly one image. An image given as exactly ${{ matrix.<name> }} is checked value by value where the matrix lists it; " +
		"other images computed by an expression or variable cannot be checked.",
}

var unpinnedImage = Rule{Rule: unpinnedImageRule, Workflow: checkUnpinnedImageWorkflow,
	Dockerfile: checkUnpinnedImageDockerfile, GitLab: checkUnpinnedImageGitLab}

func checkUnpinnedImageWorkflow(c *Context, w *ciconfig.Workflow, report func(finding.Finding)) {
	for _, j := range w.Jobs {
		if j.Container != nil {
			checkJobImage(c, j, j.Container, "job "+j.ID.Value+" container", report)
		}
		for _, s := range j.Services {
			if s.Image != nil {
				checkJobImage(c, j, s.Image, "job "+j.ID.Value+" service "+s.Name.Value, report)
			}
		}
	}
}

// checkJobImage checks a job's image, or each value of the matrix row it
// names when it is exactly ${{ matrix.<name> }} (reported where the matrix
// lists the value).
func checkJobImage(c *Context, j *ciconfig.Job, img *ciconfig.String, what string, report func(finding.Finding)) {
	if vals, ok := matrixExpansion(j, img.Value); ok {
		for i := range vals {
			checkImage(c, &vals[i], what+" (matrix value)", report)
		}
		return
	}
	checkImage(c, img, what, report)
}

func checkImage(c *Context, img *ciconfig.String, what string, report func(finding.Finding)) {
	v := strings.TrimSpace(img.Value)
	if v == "" || ciconfig.IsDynamicImage(v) {
		return
	}
	im := ciconfig.ParseImage(v)
	if im.Pinned() {
		return
	}
	report(c.at(&unpinnedImageRule, img.Pos,
		what+" uses image "+v+" without a sha256 digest; whoever controls the tag decides what runs",
		"Pin the image by digest: "+im.Name+tagPart(im)+"@sha256:<digest> (`buildwall pin` resolves it)."))
}

func tagPart(im ciconfig.Image) string {
	if im.Tag == "" {
		return ""
	}
	return ":" + im.Tag
}
