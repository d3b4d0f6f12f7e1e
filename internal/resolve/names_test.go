package resolve

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	pathpkg "path"
	"strings"
	"sync/atomic"
	"testing"
)

func TestValidateUses(t *testing.T) {
	tests := []struct {
		name                   string
		owner, repo, path, ref string
		wantErr                bool
		wantInMsg              string
	}{
		{name: "plain", owner: "octo-org", repo: "my.act_2", ref: "v1.2.3"},
		{name: "branch_with_slash", owner: "o", repo: "r", ref: "feature/x-1"},
		{name: "sha", owner: "o", repo: "r", ref: shaLight},
		{name: "path", owner: "o", repo: "r", path: ".github/workflows/ci.yml", ref: "main"},
		{name: "unicode_tag", owner: "o", repo: "r", ref: "v1-ü"},
		{name: "dotdot_ref", owner: "o", repo: "r", ref: "../../../../user/keys", wantErr: true, wantInMsg: `ref "../../../../user/keys"`},
		{name: "dotdot_inside_ref", owner: "o", repo: "r", ref: "v1/../x", wantErr: true},
		{name: "dot_component", owner: "o", repo: "r", ref: "a/.b", wantErr: true},
		{name: "lock_component", owner: "o", repo: "r", ref: "a.lock", wantErr: true},
		{name: "encoded_slash_ref", owner: "o", repo: "r", ref: "v1%2f..%2fx", wantErr: true},
		{name: "encoded_dot_ref", owner: "o", repo: "r", ref: "%2E%2e", wantErr: true},
		{name: "double_encoded", owner: "o", repo: "r", ref: "a%252fb", wantErr: true},
		{name: "backslash_ref", owner: "o", repo: "r", ref: `a\b`, wantErr: true},
		{name: "newline_ref", owner: "o", repo: "r", ref: "v1\n::error::x", wantErr: true, wantInMsg: `\\n`},
		{name: "esc_ref", owner: "o", repo: "r", ref: "v1\x1b[2J", wantErr: true},
		{name: "bidi_ref", owner: "o", repo: "r", ref: "v1\u202e", wantErr: true},
		{name: "query_ref", owner: "o", repo: "r", ref: "v1?x=1", wantErr: true},
		{name: "colon_ref", owner: "o", repo: "r", ref: "a:b", wantErr: true},
		{name: "at_brace", owner: "o", repo: "r", ref: "a@{1}", wantErr: true},
		{name: "at_alone", owner: "o", repo: "r", ref: "@", wantErr: true},
		{name: "leading_dash_ref", owner: "o", repo: "r", ref: "-v1", wantErr: true},
		{name: "trailing_slash", owner: "o", repo: "r", ref: "v1/", wantErr: true},
		{name: "double_slash", owner: "o", repo: "r", ref: "a//b", wantErr: true},
		{name: "trailing_dot", owner: "o", repo: "r", ref: "v1.", wantErr: true},
		{name: "long_ref", owner: "o", repo: "r", ref: strings.Repeat("a", maxRef+1), wantErr: true},
		{name: "dotdot_repo", owner: "o", repo: "..", ref: "v1", wantErr: true},
		{name: "dot_repo", owner: "o", repo: ".", ref: "v1", wantErr: true},
		{name: "percent_repo", owner: "o", repo: "r%2f..", ref: "v1", wantErr: true},
		{name: "underscore_owner", owner: "o_x", repo: "r", ref: "v1", wantErr: true},
		{name: "dot_owner", owner: "..", repo: "r", ref: "v1", wantErr: true},
		{name: "dotdot_path", owner: "o", repo: "r", path: "../../user/keys", ref: "v1", wantErr: true},
		{name: "empty_segment_path", owner: "o", repo: "r", path: "a//b", ref: "v1", wantErr: true},
		{name: "absolute_path", owner: "o", repo: "r", path: "/etc", ref: "v1", wantErr: true},
		{name: "backslash_path", owner: "o", repo: "r", path: `a\..\b`, ref: "v1", wantErr: true},
		{name: "encoded_path", owner: "o", repo: "r", path: "a%2F..%2Fb", ref: "v1", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateUses(tt.owner, tt.repo, tt.path, tt.ref)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ValidateUses(%q, %q, %q, %q) = %v, want error %v", tt.owner, tt.repo, tt.path, tt.ref, err, tt.wantErr)
			}
			if err == nil {
				return
			}
			if !errors.Is(err, ErrInvalidName) {
				t.Errorf("error %v does not wrap ErrInvalidName", err)
			}
			if strings.ContainsAny(err.Error(), "\n\r\x1b\u202e") {
				t.Errorf("error %q carries raw control characters", err)
			}
			if tt.wantInMsg != "" && !strings.Contains(err.Error(), tt.wantInMsg) {
				t.Errorf("error %q does not contain %q", err, tt.wantInMsg)
			}
		})
	}
}

func TestValidateImage(t *testing.T) {
	good := []string{"node:20", "registry.example:5000/team/app:1.0", "a/b__c/d-e:latest", "[::1]:5000/x:y"}
	for _, s := range good {
		name, tag, _ := strings.Cut(s[strings.LastIndexByte(s, '/')+1:], ":")
		name = s[:strings.LastIndexByte(s, '/')+1] + name
		if err := ValidateImage(SplitImage(name), tag); err != nil {
			t.Errorf("ValidateImage(%s) = %v, want nil", s, err)
		}
	}
	bad := []struct{ name, tag string }{
		{"registry.example/../../v2/x", "1"},
		{"registry.example/a%2f..", "1"},
		{"registry.example/A/B", "1"},
		{"registry.example/a//b", "1"},
		{"registry.example/a", "../x"},
		{"registry.example/a", "1\n::error::x"},
		{"reg\x1b.example/a", "1"},
		{"user@registry.example/a", "1"},
	}
	for _, b := range bad {
		err := ValidateImage(SplitImage(b.name), b.tag)
		if !errors.Is(err, ErrInvalidName) {
			t.Errorf("ValidateImage(%q, %q) = %v, want ErrInvalidName", b.name, b.tag, err)
		}
	}
}

// countingServer counts every request it gets and answers 404.
func countingServer(t *testing.T) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// A hostile uses: value must not put '..' (or anything else GitHub would
// not accept) into an API path that carries the token: nothing is requested.
func TestCommitAndFileRefuseTraversal(t *testing.T) {
	srv, calls := countingServer(t)
	r := New(Options{GitHubAPI: srv.URL, GitBase: srv.URL, Token: "t0ken"}) // ls-remote would fail anyway
	ctx := context.Background()
	for _, ref := range []string{"../../../../user/keys", "v1/../../../../user/keys", "..%2f..%2fuser", "v1\n"} {
		if _, err := r.Commit(ctx, "o", "r", ref); !errors.Is(err, ErrInvalidName) {
			t.Errorf("Commit(o, r, %q) = %v, want ErrInvalidName", ref, err)
		}
	}
	if _, err := r.Commit(ctx, "o", "..", "v1"); !errors.Is(err, ErrInvalidName) {
		t.Errorf("Commit(o, .., v1) = %v, want ErrInvalidName", err)
	}
	if _, err := r.File(ctx, "o", "r", "../../../user/keys", "v1"); !errors.Is(err, ErrInvalidName) {
		t.Errorf("File(../../../user/keys) = %v, want ErrInvalidName", err)
	}
	if _, err := r.Digest(ctx, "registry.example/../../x", "1"); !errors.Is(err, ErrInvalidName) {
		t.Errorf("Digest(registry.example/../../x) = %v, want ErrInvalidName", err)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("the server got %d requests, want none", n)
	}
}

// FuzzValidateUses: whatever ValidateUses accepts builds API paths that a
// server normalising dot segments or decoding once more would read the
// same way: no "." or ".." segment, no encoded separator, no control
// character.
func FuzzValidateUses(f *testing.F) {
	f.Add("octo", "act", "sub/dir", "v1.2")
	f.Add("o", "r", "", "../../../../user/keys")
	f.Add("o", "..", "a/../b", "%2e%2e/x")
	f.Fuzz(func(t *testing.T, owner, repo, p, ref string) {
		if ValidateUses(owner, repo, p, ref) != nil {
			return
		}
		base := "/repos/" + url.PathEscape(owner) + "/" + url.PathEscape(repo)
		for _, raw := range []string{base + "/git/ref/tags/" + escapeRef(ref), base + "/contents/" + escapeRef(p) + "?ref=" + url.QueryEscape(ref)} {
			u, err := url.Parse("https://api.test" + raw)
			if err != nil {
				t.Fatalf("accepted %q %q %q %q but %q does not parse: %v", owner, repo, p, ref, raw, err)
			}
			for _, decoded := range []string{u.Path, mustUnescape(u.EscapedPath())} {
				for seg := range strings.SplitSeq(decoded, "/") {
					if seg == "." || seg == ".." {
						t.Fatalf("accepted %q %q %q %q: path %q has a dot segment", owner, repo, p, ref, decoded)
					}
				}
				if pathpkg.Clean(decoded) != strings.TrimSuffix(decoded, "/") && decoded != "/" {
					t.Fatalf("accepted %q %q %q %q: path %q is not clean", owner, repo, p, ref, decoded)
				}
			}
			dd, _ := url.PathUnescape(u.Path) // a server decoding twice
			if strings.Contains(dd, "/../") || strings.Contains(dd, `\`) || strings.ContainsAny(dd, "\x00\n\r") {
				t.Fatalf("accepted %q %q %q %q: double-decoded path %q", owner, repo, p, ref, dd)
			}
		}
	})
}

func mustUnescape(s string) string {
	d, err := url.PathUnescape(s)
	if err != nil {
		return s
	}
	return d
}
