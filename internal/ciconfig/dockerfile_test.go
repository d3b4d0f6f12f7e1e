package ciconfig

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/buildwall/buildwall/internal/testutil"
)

// stageView is what the stage tests compare.
type stageView struct {
	Image, Resolved string
	ImagePos        Pos
	Unresolved      []string
	Name            string
	Base            int
	Scratch         bool
	Platform        string
}

func viewStages(d *Dockerfile) []stageView {
	var out []stageView
	for _, s := range d.Stages {
		v := stageView{Image: s.Image.Value, Resolved: s.Resolved, ImagePos: s.Image.Pos, Unresolved: s.Unresolved, Base: s.Base, Scratch: s.Scratch}
		if s.Name != nil {
			v.Name = s.Name.Value
		}
		for _, f := range s.From.Flags {
			if f.Name == "platform" {
				v.Platform = f.Value.Value
			}
		}
		out = append(out, v)
	}
	return out
}

func TestParseDockerfileStages(t *testing.T) {
	tests := []struct {
		name, src string
		want      []stageView
	}{
		{"plain", "FROM alpine:3.20\n", []stageView{{Image: "alpine:3.20", Resolved: "alpine:3.20", ImagePos: Pos{1, 6}, Base: -1}}},
		{"lower case and AS", "from golang:1.23 as Build\nFROM build\n", []stageView{
			{Image: "golang:1.23", Resolved: "golang:1.23", ImagePos: Pos{1, 6}, Name: "Build", Base: -1},
			{Image: "build", Resolved: "build", ImagePos: Pos{2, 6}, Base: 0},
		}},
		{"platform flag", "FROM --platform=$BUILDPLATFORM node:22 AS deps\n", []stageView{
			{Image: "node:22", Resolved: "node:22", ImagePos: Pos{1, 32}, Name: "deps", Base: -1, Platform: "$BUILDPLATFORM"},
		}},
		{"scratch", "FROM scratch\n", []stageView{{Image: "scratch", Resolved: "scratch", ImagePos: Pos{1, 6}, Base: -1, Scratch: true}}},
		{"global args", "ARG REG=registry.example\nARG TAG=1.2 OTHER\nARG NONE\nFROM ${REG}/app:$TAG\nFROM $NONE\nFROM ${NONE:-debian}:${TAG:+x}\n", []stageView{
			{Image: "${REG}/app:$TAG", Resolved: "registry.example/app:1.2", ImagePos: Pos{4, 6}, Base: -1},
			{Image: "$NONE", Resolved: "", ImagePos: Pos{5, 6}, Unresolved: []string{"NONE"}, Base: -1},
			{Image: "${NONE:-debian}:${TAG:+x}", Resolved: "debian:x", ImagePos: Pos{6, 6}, Base: -1},
		}},
		{"stage args are not global", "FROM alpine AS a\nARG X=y\nFROM $X\n", []stageView{
			{Image: "alpine", Resolved: "alpine", ImagePos: Pos{1, 6}, Name: "a", Base: -1},
			{Image: "$X", ImagePos: Pos{3, 6}, Unresolved: []string{"X"}, Base: -1},
		}},
		{"continued FROM", "FROM \\\n  alpine:3 \\\n  AS base\n", []stageView{
			{Image: "alpine:3", Resolved: "alpine:3", ImagePos: Pos{2, 3}, Name: "base", Base: -1},
		}},
		{"directives and comments", "# syntax=docker/dockerfile:1\n# escape=`\n\n# a comment\n  FROM `\n alpine\n", []stageView{
			{Image: "alpine", Resolved: "alpine", ImagePos: Pos{6, 2}, Base: -1},
		}},
		{"crlf", "FROM alpine:3\r\nRUN echo\r\n", []stageView{{Image: "alpine:3", Resolved: "alpine:3", ImagePos: Pos{1, 6}, Base: -1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := ParseDockerfile([]byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, viewStages(d)); diff != "" {
				t.Errorf("stages (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseDockerfileInstructions(t *testing.T) {
	src := "FROM alpine\n" +
		"RUN apk add curl \\\n" +
		"# comment inside\n" +
		"    && echo done\n" +
		"RUN [\"sh\", \"-c\", \"echo hi\"]\n" +
		"RUN <<EOF bash\n" +
		"echo one\n" +
		"EOF\n" +
		"COPY <<-A <<B /dst/\n" +
		"\tfirst\n" +
		"\tA\n" +
		"second\n" +
		"B\n" +
		"RUN --mount=type=cache,target=/root/.cache \\\n" +
		"    pip install x\n"
	d, err := ParseDockerfile([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	type view struct {
		Cmd      string
		Pos      Pos
		Args     string
		ArgsPos  Pos
		Script   string
		Exec     bool
		Argv     []string
		Heredocs []string
		Flags    []string
	}
	var got []view
	for _, in := range d.Instructions {
		v := view{Cmd: in.Cmd, Pos: in.Pos, Args: in.Args, ArgsPos: d.PosOf(in.ArgsOffset), Script: in.Script, Exec: in.Exec, Argv: in.Argv}
		for _, h := range in.Heredocs {
			v.Heredocs = append(v.Heredocs, h.Name+"="+h.Body)
			if src[h.BodyOffset:h.BodyOffset+len(h.Body)] != h.Body {
				t.Errorf("heredoc %s: BodyOffset does not point at the body", h.Name)
			}
		}
		for _, f := range in.Flags {
			v.Flags = append(v.Flags, f.Name+"="+f.Value.Value)
		}
		got = append(got, v)
	}
	want := []view{
		{Cmd: "FROM", Pos: Pos{1, 1}, Args: "alpine", ArgsPos: Pos{1, 6}, Script: "alpine"},
		{Cmd: "RUN", Pos: Pos{2, 1}, Args: "apk add curl \\\n# comment inside\n    && echo done", ArgsPos: Pos{2, 5},
			Script: "apk add curl \\\n                \n    && echo done"},
		{Cmd: "RUN", Pos: Pos{5, 1}, Args: `["sh", "-c", "echo hi"]`, ArgsPos: Pos{5, 5}, Script: `["sh", "-c", "echo hi"]`, Exec: true, Argv: []string{"sh", "-c", "echo hi"}},
		{Cmd: "RUN", Pos: Pos{6, 1}, Args: "<<EOF bash", ArgsPos: Pos{6, 5}, Script: "<<EOF bash", Heredocs: []string{"EOF=echo one\n"}},
		{Cmd: "COPY", Pos: Pos{9, 1}, Args: "<<-A <<B /dst/", ArgsPos: Pos{9, 6}, Script: "<<-A <<B /dst/", Heredocs: []string{"A=\tfirst\n", "B=second\n"}},
		{Cmd: "RUN", Pos: Pos{14, 1}, Args: "pip install x", ArgsPos: Pos{15, 5}, Script: "pip install x", Flags: []string{"mount=type=cache,target=/root/.cache"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("instructions (-want +got):\n%s", diff)
	}
}

func TestParseDockerfileEscapeBacktick(t *testing.T) {
	d, err := ParseDockerfile([]byte("# escape=`\nFROM mcr.example/windows\nRUN dir C:\\ ; `\n  echo x\n"))
	if err != nil {
		t.Fatal(err)
	}
	run := d.Instructions[1]
	if want := "dir C:\\ ; `\n  echo x"; run.Args != want {
		t.Errorf("Args = %q, want %q", run.Args, want)
	}
	if want := "dir C:\\ ; \\\n  echo x"; run.Script != want {
		t.Errorf("Script = %q, want %q", run.Script, want)
	}
}

func TestParseDockerfileErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"empty", "", "1:1: no FROM instruction"},
		{"only comments", "# hi\n\n", "no FROM instruction"},
		{"unknown", "FROM a\nFORM b\n", `2:1: unknown instruction "FORM"`},
		{"before from", "ARG A\nENV X=1\nFROM a\n", "2:1: ENV before the first FROM"},
		{"from without image", "FROM\n", "1:1: FROM requires an image"},
		{"from extra words", "FROM a b\n", "1:8: FROM takes an image and an optional AS name"},
		{"bad escape", "# escape=x\nFROM a\n", `1:1: invalid escape directive "x"`},
		{"open heredoc", "FROM a\nRUN <<EOF\necho\n", "2:5: heredoc EOF is not terminated"},
		{"not utf8", "FROM a\xff\n", "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseDockerfile([]byte(tt.src))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestExpandVars(t *testing.T) {
	s := func(v string) *string { return &v }
	vars := map[string]*string{"A": s("a"), "EMPTY": s(""), "NOVAL": nil, "LONG": s(strings.Repeat("x", 4<<10))}
	tests := []struct {
		in, want string
		missing  []string
	}{
		{"plain", "plain", nil},
		{"$A/${A}", "a/a", nil},
		{"${EMPTY:-d} ${EMPTY-d}", "d ", nil},
		{"${A:+alt} ${EMPTY:+alt} ${EMPTY+alt}", "alt  alt", nil},
		{"$NOVAL:${UNSET}", ":", []string{"NOVAL", "UNSET"}},
		{"${UNSET:-x}", "x", nil},
		{"cost $5", "cost $5", nil},
		{"$UNSET$UNSET$NOVAL$UNSET", "", []string{"UNSET", "NOVAL"}},
		{strings.Repeat("$LONG", 16), strings.Repeat("x", MaxExpandedLen), nil},
		// Beyond MaxExpandedLen the references stay as written.
		{strings.Repeat("$LONG", 17), strings.Repeat("$LONG", 17), nil},
	}
	for _, tt := range tests {
		got, missing := ExpandVars(tt.in, func(name string) (*string, bool) {
			v, ok := vars[name]
			return v, ok
		})
		if got != tt.want || !cmp.Equal(missing, tt.missing) {
			t.Errorf("ExpandVars(%.40q) = %.40q (%d bytes), %v; want %.40q (%d bytes), %v", tt.in, got, len(got), missing, tt.want, len(tt.want), tt.missing)
		}
	}
}

func TestStageRef(t *testing.T) {
	d, err := ParseDockerfile([]byte("FROM a AS one\nFROM b\nCOPY --from=one / /\nFROM c AS later\n"))
	if err != nil {
		t.Fatal(err)
	}
	copyIn := d.Instructions[2]
	for ref, want := range map[string]bool{"one": true, "ONE": true, "0": true, "1": true, "2": false, "later": false, "alpine": false} {
		if got := d.StageRef(ref, copyIn); got != want {
			t.Errorf("StageRef(%q) = %v, want %v", ref, got, want)
		}
	}
}

// FuzzParseDockerfile checks that arbitrary bytes never panic the parser
// and that its offsets and positions lie inside the file and agree.
func FuzzParseDockerfile(f *testing.F) {
	testutil.AddFileSeeds(f, "../cicheck/testdata/*/*.Dockerfile")
	f.Add([]byte("# escape=`\nFROM a `\n AS b\nRUN <<-X\n\tx\n\tX\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		d, err := ParseDockerfile(src)
		if d == nil {
			t.Fatal("nil Dockerfile")
		}
		if err != nil {
			pe, ok := err.(*ParseError)
			if !ok || pe.Pos.Line < 1 || pe.Pos.Column < 1 {
				t.Fatalf("error without a position: %v", err)
			}
			return
		}
		lines := strings.Count(string(src), "\n") + 1
		for _, in := range d.Instructions {
			checkPos(t, in.Pos, lines)
			if in.ArgsOffset < 0 || in.ArgsOffset+len(in.Args) > len(src) || string(src[in.ArgsOffset:in.ArgsOffset+len(in.Args)]) != in.Args {
				t.Fatalf("%s: Args %q is not at offset %d", in.Cmd, in.Args, in.ArgsOffset)
			}
			if len(in.Script) != len(in.Args) {
				t.Fatalf("%s: Script and Args differ in length", in.Cmd)
			}
			for _, h := range in.Heredocs {
				if string(src[h.BodyOffset:h.BodyOffset+len(h.Body)]) != h.Body {
					t.Fatalf("heredoc %s is not at offset %d", h.Name, h.BodyOffset)
				}
			}
		}
		if len(d.Stages) == 0 {
			t.Fatal("parsed without a stage")
		}
		for _, s := range d.Stages {
			checkPos(t, s.Image.Pos, lines)
			if s.Base >= s.Index {
				t.Fatalf("stage %d builds on a later stage %d", s.Index, s.Base)
			}
		}
	})
}

func TestParseDockerfileHeredocMarkers(t *testing.T) {
	src := "FROM a\nRUN echo \"<<NOT\" '<<NOT2' && cat <<'X' > /f && cat <<<\"$here\"\nbody $x\nX\nRUN echo done\n"
	d, err := ParseDockerfile([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, h := range d.Instructions[1].Heredocs {
		got = append(got, h.Name+"="+h.Body)
	}
	if diff := cmp.Diff([]string{"X=body $x\n"}, got); diff != "" {
		t.Errorf("heredocs (-want +got):\n%s", diff)
	}
	if len(d.Instructions) != 3 || d.Instructions[2].Pos != (Pos{5, 1}) {
		t.Errorf("instruction after the heredoc: %+v", d.Instructions[len(d.Instructions)-1])
	}
}
