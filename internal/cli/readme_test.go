package cli

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// readmeCommand is one `buildwall scan` line of a fenced sh or yaml block.
type readmeCommand struct {
	line int    // 1-based line in README.md
	text string // the command as written, from "buildwall"
}

// scanCommandRE finds a scan command in a shell line or a YAML run: value.
var scanCommandRE = regexp.MustCompile(`^\s*(?:-\s+)?(?:run:\s+)?(?:go run \./cmd/)?(buildwall scan(?:\s.*)?)$`)

// readmeScanCommands returns every buildwall scan command in the fenced
// sh and yaml blocks of README.md.
func readmeScanCommands(t *testing.T) []readmeCommand {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []readmeCommand
	inBlock := false
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "```sh") || strings.HasPrefix(line, "```yaml"):
			inBlock = true
		case strings.HasPrefix(line, "```"):
			inBlock = false
		case inBlock:
			if m := scanCommandRE.FindStringSubmatch(line); m != nil {
				out = append(out, readmeCommand{line: n, text: m[1]})
			}
		}
	}
	return out
}

// shellWords splits a simple shell command line as sh would: quotes,
// $VAR and ${VAR} from env, a "#" comment, and a "> FILE" or ">> FILE"
// redirection of stdout (returned apart, with whether it appends).
func shellWords(t *testing.T, s string, env map[string]string) (words []string, redirect string, appendTo bool) {
	t.Helper()
	var cur strings.Builder
	inWord, quote := false, byte(0)
	var redir int // 0 none, 1 ">", 2 ">>": the next word is the file
	flush := func() {
		if !inWord {
			return
		}
		switch redir {
		case 1, 2:
			redirect, appendTo, redir = cur.String(), redir == 2, 0
		default:
			words = append(words, cur.String())
		}
		cur.Reset()
		inWord = false
	}
	varRE := regexp.MustCompile(`^\$(\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z_][A-Za-z0-9_]*)`)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote == '\'':
			if c == '\'' {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case c == '$' && quote != '\'':
			m := varRE.FindString(s[i:])
			if m == "" {
				t.Fatalf("unsupported $ in %q", s)
			}
			cur.WriteString(env[strings.Trim(m[1:], "{}")])
			inWord = true
			i += len(m) - 1
		case quote == '"':
			if c == '"' {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case c == '"' || c == '\'':
			quote, inWord = c, true
		case c == ' ' || c == '\t':
			flush()
		case c == '#' && !inWord:
			flush()
			return words, redirect, appendTo
		case c == '>':
			flush()
			redir = 1
			if i+1 < len(s) && s[i+1] == '>' {
				redir, i = 2, i+1
			}
		case c == '|' || c == '&' || c == ';' || c == '<' || c == '`' || c == '\\':
			t.Fatalf("unsupported shell syntax %q in %q", c, s)
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if quote != 0 {
		t.Fatalf("unterminated quote in %q", s)
	}
	flush()
	return words, redirect, appendTo
}

// TestReadmeScanCommands runs every `buildwall scan` line of the README's
// sh and yaml blocks through Main, exactly as written: the first screen
// from the repository root, the CI snippets in a repository holding the
// example. Steps that write a report (--output, a redirection) must pass,
// or the job would stop before the gate; the others gate the vulnerable
// example and must fail with exit 1, never 2 or 3.
func TestReadmeScanCommands(t *testing.T) {
	useTestRegistry(t)
	cmds := readmeScanCommands(t)
	if len(cmds) < 4 {
		t.Fatalf("found %d scan commands in README.md; the extraction is broken", len(cmds))
	}
	repo := exampleRepo(t)
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	summary := filepath.Join(t.TempDir(), "step-summary.md")
	env := map[string]string{"BASE_REF": "main", "GITHUB_STEP_SUMMARY": summary, "NO_COLOR": "1", "BUILDWALL_DB": t.TempDir()}
	for _, c := range cmds {
		t.Logf("README.md:%d: %s", c.line, c.text)
		words, redirect, appendTo := shellWords(t, c.text, env)
		dir := repo
		if strings.Contains(c.text, "examples/") {
			dir = root // the first screen runs from the checkout
		}
		var stdout, stderr bytes.Buffer
		var out io.Writer = &stdout
		if redirect != "" {
			flag := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
			if appendTo {
				flag = os.O_WRONLY | os.O_CREATE | os.O_APPEND
			}
			if !filepath.IsAbs(redirect) {
				redirect = filepath.Join(dir, redirect)
			}
			f, err := os.OpenFile(redirect, flag, 0o644)
			if err != nil {
				t.Fatalf("README.md:%d: %v", c.line, err)
			}
			defer f.Close()
			out = f
		}
		code := Main(context.Background(), words[1:], Env{Stdout: out, Stderr: &stderr, Dir: dir,
			Getenv: func(k string) string { return env[k] }})
		// A step that writes a report (to a file or a redirection) must
		// not fail the job before the gate; the gate fails on the example.
		want := ExitFindings
		if redirect != "" || slices.Contains(words, "--output") {
			want = ExitOK
		}
		if code != want {
			t.Errorf("README.md:%d: %s: exit %d, want %d\nstderr: %s", c.line, c.text, code, want, stderr.String())
		}
	}
	if data, err := os.ReadFile(summary); err != nil || !strings.Contains(string(data), "## buildwall scan") {
		t.Errorf("no CI snippet wrote the job summary: %q, %v", data, err)
	}
}

// exampleRepo copies examples/vulnerable-app into a new git repository
// whose origin/main is its first commit, as a pull request's checkout
// with fetch-depth: 0 has. Without git it is skipped.
func exampleRepo(t *testing.T) string {
	t.Helper()
	git, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git not installed: the README's --config-from snippet needs it")
	}
	dir := t.TempDir()
	src := filepath.Join("..", "..", "examples", "vulnerable-app")
	err = filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dir, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"},
		{"add", "-A"},
		{"-c", "user.name=t", "-c", "user.email=t@t.example", "commit", "-q", "-m", "base"},
		{"update-ref", "refs/remotes/origin/main", "HEAD"},
	} {
		cmd := exec.Command(git, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	return dir
}

func TestShellWords(t *testing.T) {
	words, redirect, appendTo := shellWords(t, `buildwall scan --config-from "origin/$BASE_REF" 'a b' >> "$OUT"   # comment`,
		map[string]string{"BASE_REF": "main", "OUT": "/s.md"})
	if strings.Join(words, "|") != "buildwall|scan|--config-from|origin/main|a b" || redirect != "/s.md" || !appendTo {
		t.Errorf("got %q, %q, %v", words, redirect, appendTo)
	}
}
