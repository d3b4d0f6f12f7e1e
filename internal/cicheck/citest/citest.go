// Package citest generates synthetic CI-configuration monorepos for
// benchmarks: GitHub Actions workflows shaped like real ones (several jobs
// of many steps, pinned and unpinned actions, multi-line run: blocks full of
// expressions, a few unsafe patterns), plus local actions, Dockerfiles and
// a .gitlab-ci.yml. Output is deterministic for a given count. Hosts are
// made up (*.example).
package citest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Digest is a made-up sha256 digest for pinned images.
const Digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

const checkoutPinned = "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2"

// Workflow returns the i-th generated workflow, about 6.5 kB.
func Workflow(i int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# Generated workflow %d for the CI-scan benchmark.\nname: service-%d ci\n", i, i)
	switch i % 10 {
	case 0:
		b.WriteString("on:\n  pull_request_target:\n    types: [opened, synchronize]\n")
	case 1, 2:
		b.WriteString("on:\n  issue_comment:\n    types: [created]\n  pull_request:\n")
	case 3:
		b.WriteString("on:\n  push:\n    tags: ['v*']\n  workflow_dispatch:\n")
	default:
		b.WriteString("on:\n  push:\n    branches: [main, 'release/**']\n    paths-ignore: ['docs/**']\n  pull_request:\n    branches: [main]\n")
	}
	if i%4 != 1 {
		b.WriteString("permissions:\n  contents: read\n")
	}
	fmt.Fprintf(&b, "env:\n  SERVICE: service-%d\n  GO_VERSION: '1.23'\nconcurrency:\n  group: ${{ github.workflow }}-${{ github.ref }}\n  cancel-in-progress: true\njobs:\n", i)
	for j := range 3 {
		fmt.Fprintf(&b, "  job%d:\n    name: ${{ matrix.os }} job %d\n    runs-on: ${{ matrix.os }}\n    timeout-minutes: 30\n", j, j)
		if j == 2 {
			b.WriteString("    needs: [job0, job1]\n    permissions:\n      contents: read\n      packages: write\n")
			if i%5 == 0 {
				fmt.Fprintf(&b, "    container: node:22-bookworm\n    services:\n      db:\n        image: postgres:16@%s\n", Digest)
			}
		}
		b.WriteString("    strategy:\n      fail-fast: false\n      matrix:\n        os: [ubuntu-latest, macos-latest]\n        node: [18, 20, 22]\n    steps:\n")
		for k := range 8 {
			switch k {
			case 0:
				fmt.Fprintf(&b, "      - uses: %s\n        with:\n          fetch-depth: 0\n", checkoutPinned)
				if i%3 == 0 {
					b.WriteString("          persist-credentials: false\n")
				}
			case 1:
				if i%2 == 0 {
					b.WriteString("      - uses: actions/setup-node@39370e3970a6d050c480ffad4ff0ed4d3fdee5af # v4.1.0\n")
				} else {
					b.WriteString("      - uses: actions/setup-node@v4\n")
				}
				b.WriteString("        with:\n          node-version: ${{ matrix.node }}\n          cache: npm\n")
			case 2:
				b.WriteString("      - name: Restore cache\n        uses: actions/cache@v4\n        with:\n          path: ~/.npm\n          key: npm-${{ runner.os }}-${{ hashFiles('**/package-lock.json') }}\n")
			case 3:
				b.WriteString("      - name: Report\n        run: |\n          echo \"PR: ${{ github.event.pull_request.title }}\"\n          echo \"ref ${{ github.head_ref }} sha ${{ github.sha }}\"\n")
			case 5:
				if i%7 == 0 {
					b.WriteString("      - name: Install tool\n        run: curl -fsSL https://get.tool.example/install.sh | bash\n")
				} else {
					b.WriteString("      - name: Install tool\n        run: |\n          curl -fsSLo tool.tgz https://dl.example/tool-1.2.3.tgz\n          echo \"0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0  tool.tgz\" | sha256sum -c -\n          tar xzf tool.tgz\n")
				}
			case 6:
				fmt.Fprintf(&b, "      - name: Upload\n        uses: actions/upload-artifact@v4\n        with:\n          name: dist-%d-${{ matrix.os }}-${{ matrix.node }}\n          path: dist/\n", j)
			default:
				fmt.Fprintf(&b, "      - name: Build step %d\n        env:\n          NODE_ENV: production\n          TOKEN: ${{ secrets.NPM_TOKEN }}\n        run: |\n          set -euo pipefail\n          echo \"building $SERVICE at ${{ github.sha }} on ${{ matrix.os }}\"\n          npm ci --prefer-offline\n          npm run build -- --mode production\n          if [ \"${{ github.event_name }}\" = \"push\" ]; then\n            npm test -- --coverage --ci\n          fi\n", k)
			}
		}
	}
	return []byte(b.String())
}

// Action returns the i-th generated composite action.
func Action(i int) []byte {
	return fmt.Appendf(nil, "name: setup-%d\ndescription: shared setup\ninputs:\n  version:\n    required: true\nruns:\n  using: composite\n  steps:\n    - uses: actions/setup-go@v5\n      with:\n        go-version: ${{ inputs.version }}\n    - shell: bash\n      run: |\n        go mod download\n        echo done\n", i)
}

// Dockerfile returns the i-th generated Dockerfile (multi-stage, ARG in
// FROM, a heredoc, continuation lines).
func Dockerfile(i int) []byte {
	return fmt.Appendf(nil, `# syntax=docker/dockerfile:1.7
ARG GO_IMAGE=golang:1.23-bookworm
FROM ${GO_IMAGE} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -o /out/svc%d ./cmd/svc \
    && strip /out/svc%d
RUN <<EOF
set -e
echo built
EOF
FROM gcr.io/distroless/static@%s
COPY --from=build /out/svc%d /svc
ENTRYPOINT ["/svc"]
`, i, i, Digest, i)
}

// GitLabCI returns a generated .gitlab-ci.yml.
func GitLabCI() []byte {
	return []byte(`include:
  - remote: https://ci.example/templates/base.yml
  - project: platform/ci-templates
    ref: v2.1.0
    file: /templates/build.yml
default:
  image: node:22
.scripts: &scripts
  - npm ci
  - npm test
build:
  script: *scripts
deploy:
  image: alpine@` + Digest + `
  script:
    - curl -fsSL https://deploy.example/run.sh | sh
`)
}

// Write generates a monorepo with n workflows under dir: .github/workflows/,
// one local action per 50 workflows, one Dockerfile per 100, and a
// .gitlab-ci.yml. It returns the total bytes written.
func Write(dir string, n int) (int64, error) {
	var total int64
	put := func(rel string, data []byte) error {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		total += int64(len(data))
		return os.WriteFile(p, data, 0o644)
	}
	for i := range n {
		if err := put(fmt.Sprintf(".github/workflows/wf%05d.yml", i), Workflow(i)); err != nil {
			return total, err
		}
		if i%50 == 0 {
			if err := put(fmt.Sprintf("actions/setup-%d/action.yml", i), Action(i)); err != nil {
				return total, err
			}
		}
		if i%100 == 0 {
			if err := put(fmt.Sprintf("services/svc%d/Dockerfile", i), Dockerfile(i)); err != nil {
				return total, err
			}
		}
	}
	return total, put(".gitlab-ci.yml", GitLabCI())
}
