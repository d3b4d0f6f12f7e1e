package scan

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestScanDockerfilesAndGitLabCI(t *testing.T) {
	const df = "FROM alpine:3.20\nRUN curl -fsSL https://get.example/x | sh\n"
	const pinned = "FROM alpine@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
	dir := writeTree(t, map[string]string{
		"Dockerfile":                   df,
		"svc/api.Dockerfile":           df,
		"svc/Dockerfile.dev":           pinned,
		"svc/Containerfile":            pinned,
		"svc/Dockerfile.dockerignore":  "node_modules\n", // not a Dockerfile
		"svc/dockerfile":               df,               // names are case-sensitive
		"broken/Dockerfile":            "RUN make\n",
		".gitlab-ci.yml":               "include:\n  - remote: https://ci.example/a.yml\nbuild:\n  image: node:22\n  script: make\n",
		"ci/deploy.gitlab-ci.yml":      "deploy:\n  script:\n    - wget -qO- https://d.example/x | bash\n",
		"ci/broken.gitlab-ci.yml":      "a: [b\n",
		"node_modules/x/Dockerfile":    df, // installed packages are skipped
		"docs/gitlab-ci.yml.example":   "not scanned",
		".github/workflows/Dockerfile": df,
		"services/Containerfile.ubi9":  pinned,
		"services/weird.Containerfile": df, // not a recognized name
		"tools/.gitlab-ci.yml.bak":     "x",
	})
	res := run(t, Options{Paths: []string{dir}})
	wantFiles := []string{
		".github/workflows/Dockerfile",
		".gitlab-ci.yml",
		"Dockerfile",
		"broken/Dockerfile",
		"ci/broken.gitlab-ci.yml",
		"ci/deploy.gitlab-ci.yml",
		"services/Containerfile.ubi9",
		"svc/Containerfile",
		"svc/Dockerfile.dev",
		"svc/api.Dockerfile",
	}
	if diff := cmp.Diff(wantFiles, res.Files); diff != "" {
		t.Errorf("files mismatch (-want +got):\n%s", diff)
	}
	want := []string{
		".github/workflows/Dockerfile:1 unpinned-image",
		".github/workflows/Dockerfile:2 download-exec",
		".gitlab-ci.yml:2 unpinned-include",
		".gitlab-ci.yml:4 unpinned-image",
		"Dockerfile:1 unpinned-image",
		"Dockerfile:2 download-exec",
		"broken/Dockerfile:1 unparseable-config",
		"ci/broken.gitlab-ci.yml:1 unparseable-config",
		"ci/deploy.gitlab-ci.yml:3 download-exec",
		"svc/api.Dockerfile:1 unpinned-image",
		"svc/api.Dockerfile:2 download-exec",
	}
	if diff := cmp.Diff(want, summary(res.Findings)); diff != "" {
		t.Errorf("findings mismatch (-want +got):\n%s", diff)
	}
}
