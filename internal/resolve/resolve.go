package resolve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/buildwall/buildwall/internal/termsafe"
)

// DefaultGitHubAPI is the public GitHub REST API; --github-api replaces it
// for GitHub Enterprise.
const DefaultGitHubAPI = "https://api.github.com"

// DefaultGitBase is where `git ls-remote` finds owner/repo.
const DefaultGitBase = "https://github.com"

// Options configure a Resolver. Zero fields take the defaults noted.
type Options struct {
	// GitHubAPI is the REST API base URL (DefaultGitHubAPI).
	GitHubAPI string
	// Token is sent as "Authorization: Bearer" to GitHubAPI only ("" sends
	// nothing).
	Token string
	// GitBase is the base URL for the ls-remote fallback (DefaultGitBase);
	// "-" disables the fallback.
	GitBase string
	// Git is the git executable ("git").
	Git string
	// Registry, when set, is the base URL (scheme://host[:port]) every image
	// is fetched from instead of its own registry; the repository path is
	// kept (docker.io/library/node → /v2/library/node/...). Tests and
	// pull-through mirrors use it.
	Registry string
	// HTTPClient sends every request (default: http.DefaultClient, and for
	// token requests a client of its own that refuses, at connect time,
	// loopback, link-local and private addresses of any host but the
	// registry's unless AllowPrivate). A given client is copied with the resolver's redirect
	// rules (Authorization dropped on a change of origin, realm rules
	// applied to token redirects); the connect-time check is then up to it.
	HTTPClient *http.Client
	// AuthHosts lists the hosts ("host" for any port, "host:port") besides
	// the registry's own that a registry's token realm may name
	// (--registry-auth-host). A realm elsewhere is refused (ErrForbiddenHost).
	AuthHosts []string
	// AllowPrivate lets a listed realm host be a loopback, link-local or
	// private address (--allow-private-registry).
	AllowPrivate bool
	// Timeout bounds each request and each git command (30s); the context
	// given to each method bounds everything (pin's overall --timeout).
	Timeout time.Duration
	// Retries is how many times a failed request is retried (3); negative
	// means none.
	Retries int
	// Backoff is the first retry delay, doubled each time (500ms), capped at
	// MaxBackoff (10s); a Retry-After header replaces it.
	Backoff, MaxBackoff time.Duration
}

// Resolver resolves references. It is safe for concurrent use; answers
// (successes and failures) are cached for its lifetime.
type Resolver struct {
	opts Options
	// client sends every request but token requests, which go through
	// authClient (its own pool; see guardedClient).
	client, authClient *http.Client

	mu    sync.Mutex
	cache map[string]*entry
}

type entry struct {
	done chan struct{}
	val  string
	data []byte
	err  error
}

// New returns a Resolver with opts, defaults filled in.
func New(opts Options) *Resolver {
	if opts.GitHubAPI == "" {
		opts.GitHubAPI = DefaultGitHubAPI
	}
	opts.GitHubAPI = strings.TrimSuffix(opts.GitHubAPI, "/")
	if opts.GitBase == "" {
		opts.GitBase = DefaultGitBase
	}
	opts.GitBase = strings.TrimSuffix(opts.GitBase, "/")
	opts.Registry = strings.TrimSuffix(opts.Registry, "/")
	if opts.Git == "" {
		opts.Git = "git"
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.Retries == 0 {
		opts.Retries = 3
	} else if opts.Retries < 0 {
		opts.Retries = 0
	}
	if opts.Backoff <= 0 {
		opts.Backoff = 500 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 10 * time.Second
	}
	r := &Resolver{opts: opts, cache: map[string]*entry{}}
	if opts.HTTPClient == nil {
		r.client = withRedirectCheck(http.DefaultClient)
		r.authClient = guardedClient(http.ProxyFromEnvironment)
	} else {
		r.client = withRedirectCheck(opts.HTTPClient)
		r.authClient = r.client
	}
	return r
}

// memo runs f once per key (concurrent callers wait for the first).
func (r *Resolver) memo(key string, f func() (string, []byte, error)) (string, []byte, error) {
	r.mu.Lock()
	e, ok := r.cache[key]
	if !ok {
		e = &entry{done: make(chan struct{})}
		r.cache[key] = e
		r.mu.Unlock()
		e.val, e.data, e.err = f()
		close(e.done)
	} else {
		r.mu.Unlock()
		<-e.done
	}
	return e.val, e.data, e.err
}

// Commit returns the full commit SHA that ref (a tag or branch of
// owner/repo) points at; an annotated tag resolves to its commit. A ref
// that exists nowhere gives an error wrapping ErrNotFound; a name GitHub
// would not accept gives one wrapping ErrInvalidName, without any request.
func (r *Resolver) Commit(ctx context.Context, owner, repo, ref string) (string, error) {
	if err := ValidateUses(owner, repo, "", ref); err != nil {
		return "", fmt.Errorf("resolve %s/%s@%s: %w", termsafe.String(owner), termsafe.String(repo), termsafe.String(ref), err)
	}
	sha, _, err := r.memo("commit\x00"+owner+"/"+repo+"@"+ref, func() (string, []byte, error) {
		sha, err := r.commit(ctx, owner, repo, ref)
		return sha, nil, err
	})
	return sha, err
}

func (r *Resolver) commit(ctx context.Context, owner, repo, ref string) (string, error) {
	sha, apiErr := r.apiCommit(ctx, owner, repo, ref)
	if apiErr == nil {
		return sha, nil
	}
	if r.opts.GitBase == "-" {
		return "", fmt.Errorf("resolve %s/%s@%s: %w", owner, repo, ref, apiErr)
	}
	sha, gitErr := r.lsRemote(ctx, owner, repo, ref)
	if gitErr == nil {
		return sha, nil
	}
	if errors.Is(apiErr, ErrNotFound) && errors.Is(gitErr, ErrNotFound) {
		return "", fmt.Errorf("resolve %s/%s@%s: no tag or branch %q: %w", owner, repo, ref, ref, ErrNotFound)
	}
	return "", fmt.Errorf("resolve %s/%s@%s: GitHub API: %w; git ls-remote: %w", owner, repo, ref, apiErr, gitErr)
}

// gitObject is the object of a GitHub ref or tag answer.
type gitObject struct {
	Object struct {
		Type string `json:"type"`
		SHA  string `json:"sha"`
	} `json:"object"`
}

func (r *Resolver) apiGet(ctx context.Context, path, accept string) ([]byte, error) {
	u := r.opts.GitHubAPI + path
	_, body, err := r.do(ctx, r.client, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", accept)
		req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
		if r.opts.Token != "" {
			req.Header.Set("Authorization", "Bearer "+r.opts.Token)
		}
		return req, nil
	})
	if notFound(err) {
		return nil, fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return body, err
}

// apiCommit resolves ref with the git refs API: tags first, then branches.
func (r *Resolver) apiCommit(ctx context.Context, owner, repo, ref string) (string, error) {
	base := "/repos/" + url.PathEscape(owner) + "/" + url.PathEscape(repo)
	body, err := r.apiGet(ctx, base+"/git/ref/tags/"+escapeRef(ref), "application/vnd.github+json")
	if errors.Is(err, ErrNotFound) {
		body, err = r.apiGet(ctx, base+"/git/ref/heads/"+escapeRef(ref), "application/vnd.github+json")
	}
	if err != nil {
		return "", err
	}
	// Follow annotated tags (a tag of a tag is legal) to the commit.
	for range 5 {
		var obj gitObject
		if err := json.Unmarshal(body, &obj); err != nil {
			return "", fmt.Errorf("decode GitHub ref answer: %w", err)
		}
		switch obj.Object.Type {
		case "commit":
			if !isHex40(obj.Object.SHA) {
				return "", fmt.Errorf("GitHub ref answer has a malformed SHA %q", clip(obj.Object.SHA))
			}
			return strings.ToLower(obj.Object.SHA), nil
		case "tag":
			if !isHex40(obj.Object.SHA) {
				return "", fmt.Errorf("GitHub tag answer has a malformed SHA %q", clip(obj.Object.SHA))
			}
			body, err = r.apiGet(ctx, base+"/git/tags/"+obj.Object.SHA, "application/vnd.github+json")
			if err != nil {
				return "", err
			}
		default:
			// A ref list (the API's prefix match) or a tree/blob tag.
			return "", fmt.Errorf("ref %s points at a %q, not a commit: %w", ref, clip(obj.Object.Type), ErrNotFound)
		}
	}
	return "", fmt.Errorf("tag %s: too many nested annotated tags", ref)
}

// escapeRef escapes each segment of a ref (branches may contain '/').
func escapeRef(ref string) string {
	segs := strings.Split(ref, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// lsRemote resolves ref with git ls-remote; the peeled tag wins, then the
// tag, then the branch.
func (r *Resolver) lsRemote(ctx context.Context, owner, repo, ref string) (string, error) {
	if strings.HasPrefix(ref, "-") || strings.ContainsAny(ref, " \t\n*?[\\") {
		return "", fmt.Errorf("ref %q is not a valid git ref name: %w", ref, ErrNotFound)
	}
	ctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	remote := r.opts.GitBase + "/" + owner + "/" + repo
	cmd := exec.CommandContext(ctx, r.opts.Git, "ls-remote", "--", remote, "refs/tags/"+ref, "refs/tags/"+ref+"^{}", "refs/heads/"+ref)
	cmd.Env = append(cmd.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_ASKPASS=/bin/false")
	// git's helpers (git-remote-https) inherit the pipes and outlive a
	// killed git: stop waiting for them shortly after the deadline.
	cmd.WaitDelay = time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return "", fmt.Errorf("git ls-remote %s: %s", remote, snippet([]byte(msg)))
	}
	found := map[string]string{}
	for line := range strings.SplitSeq(string(out), "\n") {
		sha, name, ok := strings.Cut(strings.TrimSpace(line), "\t")
		if ok && isHex40(sha) {
			found[name] = strings.ToLower(sha)
		}
	}
	for _, name := range []string{"refs/tags/" + ref + "^{}", "refs/tags/" + ref, "refs/heads/" + ref} {
		if sha, ok := found[name]; ok {
			return sha, nil
		}
	}
	return "", fmt.Errorf("git ls-remote %s: no tag or branch %q: %w", remote, ref, ErrNotFound)
}

// File returns the contents of path in owner/repo at ref, through the
// contents API. A missing file gives an error wrapping ErrNotFound; a name
// GitHub would not accept one wrapping ErrInvalidName, without any request.
func (r *Resolver) File(ctx context.Context, owner, repo, path, ref string) ([]byte, error) {
	if err := ValidateUses(owner, repo, path, ref); err != nil {
		return nil, fmt.Errorf("fetch %s/%s/%s@%s: %w", termsafe.String(owner), termsafe.String(repo), termsafe.String(path), termsafe.String(ref), err)
	}
	if path == "" {
		return nil, fmt.Errorf("fetch %s/%s@%s: %w: empty path", owner, repo, ref, ErrInvalidName)
	}
	key := "file\x00" + owner + "/" + repo + "/" + path + "@" + ref
	_, data, err := r.memo(key, func() (string, []byte, error) {
		p := "/repos/" + url.PathEscape(owner) + "/" + url.PathEscape(repo) + "/contents/" + escapeRef(path) + "?ref=" + url.QueryEscape(ref)
		b, err := r.apiGet(ctx, p, "application/vnd.github.raw+json")
		if err != nil {
			return "", nil, fmt.Errorf("fetch %s/%s/%s@%s: %w", owner, repo, path, ref, err)
		}
		return "", b, nil
	})
	return data, err
}

func isHex40(s string) bool {
	if len(s) != 40 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
