package cicheck

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDownloadExec(t *testing.T) {
	tests := []struct {
		name   string
		script string
		want   []string // the text of each span
	}{
		{"curl_pipe_sh", "curl -fsSL https://get.example/install.sh | sh", []string{"curl -fsSL https://get.example/install.sh | sh"}},
		{"wget_pipe_sudo_bash", "set -e\nwget -qO- https://x.example/i | sudo -E bash -s -- --yes\n", []string{"wget -qO- https://x.example/i | sudo -E bash"}},
		{"pipe_python", "curl -sSL https://install.example/p.py | python3 -", []string{"curl -sSL https://install.example/p.py | python3"}},
		{"continued_line", "curl -fsSL \\\n  https://get.example/x \\\n  | bash", []string{"curl -fsSL \\\n  https://get.example/x \\\n  | bash"}},
		{"process_substitution", "bash <(curl -s https://x.example/i.sh)", []string{"bash <(curl"}},
		{"command_substitution", `sh -c "$(curl -fsSL https://x.example/i.sh)"`, []string{`sh -c "$(curl`}},
		{"eval", `eval "$(wget -qO- https://x.example/env)"`, []string{`eval "$(wget`}},
		{"download_o_then_bash", "curl -fsSL -o install.sh https://x.example/install.sh\nbash install.sh --prefix /usr", []string{"curl -fsSL -o install.sh https://x.example/install.sh\nbash install.sh"}},
		{"download_then_abs_path", "wget -O /tmp/setup.sh https://x.example/s && chmod +x /tmp/setup.sh && /tmp/setup.sh", []string{"wget -O /tmp/setup.sh https://x.example/s && chmod +x /tmp/setup.sh && /tmp/setup.sh"}},
		{"redirect_then_dot_slash", "curl -s https://x.example/s > s.sh\nchmod +x s.sh\n./s.sh", []string{"curl -s https://x.example/s > s.sh\nchmod +x s.sh\n./s.sh"}},
		{"remote_name_then_source", "curl -fsSLO https://x.example/dl/env.sh\nsource env.sh", []string{"curl -fsSLO https://x.example/dl/env.sh\nsource env.sh"}},
		{"wget_default_name", "wget https://x.example/dl/run.sh; sh run.sh", []string{"wget https://x.example/dl/run.sh; sh run.sh"}},
		{"pipe_to_sha256sum", "curl -fsSL https://x.example/f | sha256sum", nil},
		{"pipe_to_tar", "curl -fsSL https://x.example/f.tgz | tar xz", nil},
		{"pipe_to_shasum", "curl -fsSL https://x.example/f | shasum -a 256", nil},
		{"download_checked_not_run", "curl -fsSLo tool.tgz https://x.example/tool.tgz\nsha256sum -c tool.sha256\ntar xzf tool.tgz", nil},
		{"download_only", "curl -o install.sh https://x.example/install.sh\ncat install.sh", nil},
		{"chmod_only", "curl -o install.sh https://x.example/install.sh\nchmod +x install.sh", nil},
		{"no_fetch", "make build | tee log.txt", nil},
		{"grouped_o_then_sh", "curl -fsSLo i.sh https://x.example/i.sh\nsh i.sh", []string{"curl -fsSLo i.sh https://x.example/i.sh\nsh i.sh"}},
		{"output_eq_then_bash_flags", "curl --output=/tmp/i.sh https://x.example/i\nbash -x /tmp/i.sh", []string{"curl --output=/tmp/i.sh https://x.example/i\nbash -x /tmp/i.sh"}},
		{"wget_qO_then_sudo_sh", "wget -qO inst.sh https://x.example/i && sudo sh inst.sh", []string{"wget -qO inst.sh https://x.example/i && sudo sh inst.sh"}},
		{"quoted_file", `curl -o "i.sh" https://x.example/i && bash "i.sh"`, []string{`curl -o "i.sh" https://x.example/i && bash "i.sh"`}},
		{"grouped_o_then_tar", "curl -fsSLo tool.tgz https://x.example/t.tgz\ntar xzf tool.tgz", nil},
		{"curl_exe_pwsh", "curl.exe -sSL https://x.example/x.ps1 | pwsh", []string{"curl.exe -sSL https://x.example/x.ps1 | pwsh"}},
		{"python_minor_version", "curl -s https://x.example/p | python3.12 -", []string{"curl -s https://x.example/p | python3.12"}},
		{"not_a_fetcher_word", "mycurl https://x.example | sh\necho curlish | bash", nil},
		{"or_is_not_a_pipe", "curl -fsS https://x.example/health || sh fallback.sh", nil},
		{"other_file_with_same_suffix", "curl -o a.sh https://x.example/a\nsh ba.sh", nil},
		{"two", "curl a.example | sh\necho ok\nwget -O- b.example | bash", []string{"curl a.example | sh", "wget -O- b.example | bash"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, s := range DownloadExec(tt.script) {
				got = append(got, tt.script[s.Start:s.End])
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("DownloadExec(%q) mismatch (-want +got):\n%s", tt.script, diff)
			}
		})
	}
}
