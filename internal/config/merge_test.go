package config

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const newRun = "run:\n  mode: block\n  allow:\n    - registry.example:443\n"

func TestReplaceRun(t *testing.T) {
	const head = "# Team configuration. Do not remove.\nscan:\n  fail-on: medium # strict\n  ignore:\n    - rule: install-script\n      package: esbuild\n      reason: needs its binary\n\n"
	const tail = "\n# the trailer belongs to nothing\n"
	tests := []struct {
		name, in, want string
	}{
		{"run_last", head + "run:\n  mode: audit # try first\n  allow: [npm]\n" + tail, head + newRun + tail},
		{"run_first", "run:\n  mode: audit\n  allow:\n    # indented comment: part of run\n    - npm\n\n# scan follows\nscan:\n  fail-on: high\n",
			newRun + "\n# scan follows\nscan:\n  fail-on: high\n"},
		{"no_run", head, head + newRun},
		{"no_run_no_newline", "scan:\n  fail-on: high", "scan:\n  fail-on: high\n" + newRun},
		{"empty", "", newRun},
		{"only_comments", "# nothing yet\n", "# nothing yet\n" + newRun},
		{"crlf_outside_kept", "scan:\r\n  fail-on: high\r\nrun:\r\n  mode: audit\r\n", "scan:\r\n  fail-on: high\r\n" + newRun},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReplaceRun("buildwall.yml", []byte(tc.in), []byte(newRun))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, string(got)); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
			if _, err := Parse("buildwall.yml", got); err != nil {
				t.Errorf("result does not parse: %v", err)
			}
		})
	}
}

func TestReplaceRunErrors(t *testing.T) {
	for name, in := range map[string]string{
		"not_yaml":    "scan: [\n",
		"not_mapping": "- a\n- b\n",
		"flow_root":   "{scan: {}, run: {}}\n",
		"two_docs":    "run:\n  mode: audit\n---\nscan:\n  fail-on: high\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ReplaceRun("buildwall.yml", []byte(in), []byte(newRun)); err == nil || !strings.HasPrefix(err.Error(), "buildwall.yml:") {
				t.Errorf("err = %v, want a positioned error", err)
			}
		})
	}
}

func TestRunSection(t *testing.T) {
	got, err := RunSection([]byte("# header\n# more\nrun:\n  mode: block\n"))
	if err != nil || string(got) != "run:\n  mode: block\n" {
		t.Errorf("RunSection = %q, %v", got, err)
	}
	if _, err := RunSection([]byte("# only\n")); err == nil {
		t.Error("RunSection without run: succeeded")
	}
}
