package ciconfig

import (
	"bytes"
	"github.com/rhysd/actionlint"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/buildwall/buildwall/internal/cicheck/citest"
	"github.com/buildwall/buildwall/internal/testutil"
)

var sourceBytes = cmp.Comparer(func(a, b *Source) bool {
	return (a == nil) == (b == nil) && (a == nil || bytes.Equal(a.Bytes(), b.Bytes()))
})

// sameWorkflow is a quick equality check; cmp.Diff explains differences.
func sameWorkflow(a, b *Workflow) bool {
	if a == nil || b == nil || a.Source == nil || b.Source == nil || !bytes.Equal(a.Bytes(), b.Bytes()) {
		return false
	}
	x, y := *a, *b
	x.Source, y.Source = nil, nil
	return reflect.DeepEqual(x, y)
}

// checkFastWorkflow fails t when the fast front end accepts src but its
// Workflow differs from the actionlint path's, or the actionlint path
// reports an error. It returns whether the fast front end accepted src.
func checkFastWorkflow(t *testing.T, name string, src []byte) bool {
	t.Helper()
	fast, ok := fastWorkflow(src)
	if !ok {
		return false
	}
	want, err := parseWorkflowActionlint(src)
	if err != nil {
		t.Errorf("%s: fast front end accepted a workflow actionlint rejects: %v\n%s", name, err, src)
		return true
	}
	if sameWorkflow(want, fast) {
		return true
	}
	if diff := cmp.Diff(want, fast, sourceBytes); diff != "" {
		t.Errorf("%s: fast front end differs from actionlint (-want +got):\n%s", name, diff)
	}
	return true
}

func TestFastWorkflowCorpus(t *testing.T) {
	files := workflowCorpus(t)
	fast, generated, generatedFast := 0, 0, 0
	for name, src := range files {
		if strings.Contains(name, "action") && !strings.Contains(name, "workflow") {
			continue
		}
		ok := checkFastWorkflow(t, name, src)
		if ok {
			fast++
		}
		if strings.HasPrefix(name, "citest/workflow") {
			generated++
			if ok {
				generatedFast++
			}
		}
	}
	t.Logf("fast front end took %d of %d files (%d of %d generated)", fast, len(files), generatedFast, generated)
	if generatedFast != generated {
		t.Errorf("fast front end took %d of %d generated workflows, want all", generatedFast, generated)
	}
}

// TestFastWorkflowFixtures requires every rule fixture and example that
// actionlint parses without error, and that uses no YAML anchors, to take
// the fast path, so that a change that silently sends common workflows to
// actionlint fails.
func TestFastWorkflowFixtures(t *testing.T) {
	paths, _ := filepath.Glob("../cicheck/testdata/*/*.yml")
	examples, _ := filepath.Glob("../../examples/*/.github/workflows/*.yml")
	paths = append(paths, examples...)
	if len(paths) == 0 {
		t.Skip("no fixtures")
	}
	fast, clean := 0, 0
	for _, p := range paths {
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		ok := checkFastWorkflow(t, p, src)
		if ok {
			fast++
		}
		// Clean for actionlint itself: the problems ParseWorkflow
		// tolerates (parallel: steps, empty sections) are not taken
		// by the fast front end.
		if _, errs := actionlint.Parse(src); len(errs) > 0 || mayHaveAnchors(src) {
			continue
		}
		clean++
		if !ok {
			t.Errorf("%s: a clean workflow did not take the fast path", p)
		}
	}
	t.Logf("fast front end took %d of %d fixtures (%d clean)", fast, len(paths), clean)
}

const fastHead = "on: push\njobs:\n  j:\n    runs-on: ubuntu-latest\n    steps:\n"

// fastWorkflowCases are workflow-level cases; FuzzFastWorkflow seeds from them.
var fastWorkflowCases = []struct {
	name   string
	src    string
	wantOK bool
}{
	{"minimal", fastHead + "      - run: echo hi\n", true},
	{"generated", string(citest.Workflow(7)), true},
	{"on_forms", "on: [push, \"workflow_dispatch\"]\njobs:\n  j:\n    uses: o/r/.github/workflows/w.yml@v1\n    secrets: inherit\n", true},
	{"on_mapping", "on:\n  push:\n    branches: main\n    tags: ['v*']\n  pull_request_target:\n    types: [opened]\n  schedule:\n    - cron: '0 0 * * *'\n  workflow_dispatch:\n  repository_dispatch:\n    types: x\n  workflow_call:\n    inputs:\n      a:\n        type: string\n        required: true\n    secrets:\n      s:\n    outputs:\n      o:\n        value: ${{ jobs.j.outputs.o }}\njobs:\n  j:\n    runs-on: ubuntu-latest\n    steps:\n      - run: x\n", true},
	{"permissions_and_env", "permissions: write-all\nenv:\n  A: '1'\n  B:\non: push\njobs:\n  j:\n    permissions:\n      contents: read\n      id-token: write\n    env: ${{ fromJSON(x) }}\n    runs-on: [self-hosted, linux]\n    container:\n      image: node:20\n      credentials:\n        username: u\n        password: p\n    services:\n      db: postgres:16\n      cache:\n        image: redis\n        ports: [6379]\n    strategy:\n      max-parallel: 2\n      matrix:\n        os: [a, 'b']\n        include:\n          - os: c\n            extra: d\n          - ${{ fromJSON(y) }}\n    steps:\n      - uses: docker://alpine:3\n        with:\n          entrypoint: /bin/sh\n          args: -c true\n          other: x\n      - run: |\n          echo ${{ github.head_ref }}\n        shell: bash\n        timeout-minutes: 1.5\n        continue-on-error: ${{ true }}\n", true},
	{"runs_on_group", fastHead[:len(fastHead)-len("    runs-on: ubuntu-latest\n    steps:\n")] + "    runs-on:\n      group: g\n      labels: ${{ x }}\n    steps:\n      - uses: a/b@v1\n", true},
	{"unknown_key", fastHead + "      - run: x\n        foo: bar\n", false},
	{"both_uses_and_run", fastHead + "      - run: x\n        uses: a/b@v1\n", false},
	{"neither_uses_nor_run", fastHead + "      - name: x\n", false},
	{"missing_runs_on", "on: push\njobs:\n  j:\n    steps:\n      - run: x\n", false},
	{"missing_on", "jobs:\n  j:\n    runs-on: x\n    steps:\n      - run: x\n", false},
	{"call_with_steps_key", "on: push\njobs:\n  j:\n    uses: o/r/w.yml@v1\n    runs-on: x\n", false},
	{"with_without_uses", fastHead + "      - run: x\n    with:\n      a: b\n", false},
	{"duplicate_job_case", fastHead + "      - run: x\n  J:\n    runs-on: x\n    steps:\n      - run: y\n", false},
	{"empty_env", fastHead + "      - run: x\n        env:\n", false},
	{"bad_bool", fastHead + "      - run: x\n        continue-on-error: yes\n", false},
	{"zero_timeout", fastHead + "      - run: x\n        timeout-minutes: 0\n", false},
	{"schedule_scalar", "on: schedule\njobs:\n  j:\n    runs-on: x\n    steps:\n      - run: x\n", false},
	{"merge_key", fastHead + "      - run: x\n        <<: {a: b}\n", false},
	{"many_env", "env:\n" + indent(manyKeys("V", 300, "")) + fastHead + "      - run: x\n", true},
	{"many_env_case_duplicate", "env:\n" + indent(manyKeys("V", 300, "v17: x\n")) + fastHead + "      - run: x\n", false},
	{"secrets_not_inherit", "on: push\njobs:\n  j:\n    uses: o/r/w.yml@v1\n    secrets: all\n", false},
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n  ") + "\n"
}

func TestFastWorkflowCases(t *testing.T) {
	for _, tt := range fastWorkflowCases {
		t.Run(tt.name, func(t *testing.T) {
			if got := checkFastWorkflow(t, tt.name, []byte(tt.src)); got != tt.wantOK {
				_, err := parseWorkflowActionlint([]byte(tt.src))
				t.Errorf("fast front end ok = %v, want %v (actionlint: %v)", got, tt.wantOK, err)
			}
		})
	}
}

// FuzzFastWorkflow checks on arbitrary input that whatever the fast front
// end accepts is read exactly as the actionlint path reads it, and that
// the fast YAML reader agrees with yaml/v4.
func FuzzFastWorkflow(f *testing.F) {
	testutil.AddFileSeeds(f, "../cicheck/testdata/*/*.yml")
	f.Add(citest.Workflow(1))
	if dir := actionlintTestdata(); dir != "" {
		testutil.AddFileSeeds(f, filepath.Join(dir, "ok", "*.yaml"))
		testutil.AddFileSeeds(f, filepath.Join(dir, "realworld", "*.yaml"))
	}
	for _, c := range fastYAMLCases {
		f.Add([]byte(c.src))
	}
	for _, c := range fastWorkflowCases {
		f.Add([]byte(c.src))
	}
	f.Add([]byte("on: push\njobs:\n  j:\n    runs-on: x\n    steps:\n      - run: |+2\n           a\n\n          b\n      - run: >-\n          a\n          b\n\n           c\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		checkFastYAML(t, "fuzz", src)
		checkFastWorkflow(t, "fuzz", src)
	})
}

// BenchmarkParseWorkflow compares ParseWorkflow (fast front end) with the
// actionlint path on generated workflows.
func BenchmarkParseWorkflow(b *testing.B) {
	var files [][]byte
	size := 0
	for i := range 200 {
		files = append(files, citest.Workflow(i))
		size += len(files[i])
	}
	for _, bm := range []struct {
		name  string
		parse func([]byte) (*Workflow, error)
	}{{"fast", ParseWorkflow}, {"actionlint", parseWorkflowActionlint}} {
		b.Run(bm.name, func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				for _, f := range files {
					if _, err := bm.parse(f); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
