package cicheck

import (
	"strconv"
	"strings"

	"github.com/buildwall/buildwall/internal/ciconfig"
	"github.com/buildwall/buildwall/internal/finding"
)

var unpinnedImageRule = finding.Rule{
	ID:       "unpinned-image",
	Severity: finding.SeverityMedium,
	Summary:  "A container image (container:, services:, uses: docker://, Dockerfile FROM, GitLab image:) is referenced without an @sha256: digest.",
	Fix:      "Pin the image by digest: name:tag@sha256:<digest> (buildwall pin resolves it).",
	Help: "An image tag is a mutable pointer: whoever can push to the repository (or compromises it) decides what runs next time. " +
		"A digest names exactly one image. A docker:// image in uses: is an image too. An image given as exactly ${{ matrix.<name> }} is " +
		"reported once per matrix row, at the row, listing its values without a digest; " +
		"other images computed by an expression or variable cannot be checked.",
}

var unpinnedImage = Rule{Rule: unpinnedImageRule, Workflow: checkUnpinnedImageWorkflow, Action: checkUnpinnedImageAction,
	Dockerfile: checkUnpinnedImageDockerfile, GitLab: checkUnpinnedImageGitLab}

func checkUnpinnedImageWorkflow(c *Context, w *ciconfig.Workflow, report func(finding.Finding)) {
	for _, j := range w.Jobs {
		// Images given as ${{ matrix.<row> }}: one finding per row,
		// however many containers and services use it.
		var rows []*matrixImages
		if j.Container != nil {
			rows = checkJobImage(c, j, j.Container, "container", rows, report)
		}
		for _, s := range j.Services {
			if s.Image != nil {
				rows = checkJobImage(c, j, s.Image, "service "+s.Name.Value, rows, report)
			}
		}
		for _, r := range rows {
			reportMatrixImages(c, j, r, report)
		}
	}
	for _, u := range c.fileUses(w) {
		checkDockerUses(c, u, "uses:", report)
	}
}

func checkUnpinnedImageAction(c *Context, a *ciconfig.Action, report func(finding.Finding)) {
	for _, u := range actionUses(a) {
		checkDockerUses(c, u, "uses:", report)
	}
	if a.Runs != nil && a.Runs.Image != nil {
		checkDockerUses(c, usesRef{str: a.Runs.Image, uses: ciconfig.ParseUses(a.Runs.Image.Value)}, "runs.image:", report)
	}
}

// checkDockerUses reports a docker:// uses: (or Docker action image)
// without a digest: it is an image like any other.
func checkDockerUses(c *Context, u usesRef, key string, report func(finding.Finding)) {
	if u.uses.Kind != ciconfig.UsesDocker || u.uses.Image.Pinned() {
		return
	}
	v := strings.TrimSpace(u.str.Value)
	if ciconfig.IsDynamicImage(strings.TrimPrefix(v, "docker://")) {
		return
	}
	im := u.uses.Image
	report(c.at(&unpinnedImageRule, u.str.Pos,
		key+" "+v+" runs the image without a sha256 digest; whoever controls the tag decides what runs",
		"Pin the image by digest: docker://"+im.Name+tagPart(im)+"@sha256:<digest> (`buildwall pin` resolves it)."))
}

// matrixImages is one matrix row that a job's images name.
type matrixImages struct {
	row  *ciconfig.MatrixRow
	what []string
}

// checkJobImage checks a job's image; when it is exactly
// ${{ matrix.<name> }} it adds what uses it to the row's entry in rows
// (reported once per row by reportMatrixImages) and returns rows.
func checkJobImage(c *Context, j *ciconfig.Job, img *ciconfig.String, what string, rows []*matrixImages, report func(finding.Finding)) []*matrixImages {
	if vals, ok := matrixExpansion(j, img.Value); ok {
		for i := range j.Matrix {
			r := &j.Matrix[i]
			if len(r.Values) == 0 || &r.Values[0] != &vals[0] {
				continue
			}
			for _, m := range rows {
				if m.row == r {
					m.what = append(m.what, what)
					return rows
				}
			}
			return append(rows, &matrixImages{row: r, what: []string{what}})
		}
		return rows
	}
	checkImage(c, img, "job "+j.ID.Value+" "+what, report)
	return rows
}

// reportMatrixImages reports, at the matrix row's key, the values of r
// that are images without a digest.
func reportMatrixImages(c *Context, j *ciconfig.Job, r *matrixImages, report func(finding.Finding)) {
	var bad []string
	for _, v := range r.row.Values {
		t := strings.TrimSpace(v.Value)
		if t == "" || ciconfig.IsDynamicImage(t) || ciconfig.ParseImage(t).Pinned() {
			continue
		}
		bad = append(bad, t)
	}
	if len(bad) == 0 {
		return
	}
	const maxListed = 10
	list := strings.Join(bad[:min(len(bad), maxListed)], ", ")
	if len(bad) > maxListed {
		list += " and " + strconv.Itoa(len(bad)-maxListed) + " more"
	}
	report(c.at(&unpinnedImageRule, r.row.Name.Pos,
		"job "+j.ID.Value+" "+strings.Join(r.what, ", ")+" runs the images of matrix."+r.row.Name.Value+"; without a sha256 digest: "+list+"; whoever controls a tag decides what runs",
		"Pin each image of the matrix row by digest: name:tag@sha256:<digest> (`buildwall pin` resolves them)."))
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
