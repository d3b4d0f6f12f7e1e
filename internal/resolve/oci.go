package resolve

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/buildwall/buildwall/internal/termsafe"
)

// manifestAccept lists the manifest media types a digest may name: an
// index or manifest list for multi-platform images (the digest to pin),
// else a single manifest.
var manifestAccept = strings.Join([]string{
	"application/vnd.oci.image.index.v1+json",
	"application/vnd.docker.distribution.manifest.list.v2+json",
	"application/vnd.oci.image.manifest.v1+json",
	"application/vnd.docker.distribution.manifest.v2+json",
}, ", ")

// dockerHubEndpoint serves docker.io images.
const dockerHubEndpoint = "https://registry-1.docker.io"

// ImageRef is an image name split the way registries see it.
type ImageRef struct {
	// Registry is the host[:port] ("docker.io" for Docker Hub).
	Registry string
	// Repository is the path on the registry (library/node for node).
	Repository string
}

// SplitImage splits an image name (without tag or digest) into registry
// and repository, with Docker's defaults: a first component without '.',
// ':' and other than localhost is a Docker Hub user, and a single
// component is an official image (library/).
func SplitImage(name string) ImageRef {
	first, rest, ok := strings.Cut(name, "/")
	if !ok || !strings.ContainsAny(first, ".:") && first != "localhost" {
		if !ok {
			return ImageRef{Registry: "docker.io", Repository: "library/" + name}
		}
		return ImageRef{Registry: "docker.io", Repository: name}
	}
	if first == "index.docker.io" {
		first = "docker.io"
	}
	if first == "docker.io" && !strings.Contains(rest, "/") {
		rest = "library/" + rest
	}
	return ImageRef{Registry: first, Repository: rest}
}

// Digest returns the sha256 digest ("sha256:<64 hex>") of the manifest
// that name:tag points at; tag "" means latest. For a multi-platform image
// this is the index digest.
func (r *Resolver) Digest(ctx context.Context, name, tag string) (string, error) {
	if tag == "" {
		tag = "latest"
	}
	d, _, err := r.memo("image\x00"+name+":"+tag, func() (string, []byte, error) {
		d, err := r.digest(ctx, name, tag)
		if err != nil {
			return "", nil, fmt.Errorf("resolve image %s:%s: %w", termsafe.String(name), termsafe.String(tag), err)
		}
		return d, nil, nil
	})
	return d, err
}

func (r *Resolver) digest(ctx context.Context, name, tag string) (string, error) {
	ref := SplitImage(name)
	if err := ValidateImage(ref, tag); err != nil {
		return "", err
	}
	base := r.opts.Registry
	switch {
	case base != "":
	case ref.Registry == "docker.io":
		base = dockerHubEndpoint
	default:
		base = "https://" + ref.Registry
	}
	registry, err := url.Parse(base)
	if err != nil || registry.Host == "" {
		return "", fmt.Errorf("bad registry URL %q", clip(base))
	}
	u := base + "/v2/" + ref.Repository + "/manifests/" + url.PathEscape(tag)
	var token string
	for _, method := range []string{http.MethodHead, http.MethodGet} {
		resp, body, err := r.manifest(ctx, method, u, token)
		var se *StatusError
		if errors.As(err, &se) && se.Code == http.StatusUnauthorized && token == "" && resp != nil {
			token, err = r.registryToken(ctx, registry, resp.Header.Get("WWW-Authenticate"))
			if err != nil {
				return "", err
			}
			resp, body, err = r.manifest(ctx, method, u, token)
		}
		if notFound(err) {
			return "", fmt.Errorf("%w: %w", ErrNotFound, err)
		}
		if err != nil {
			if method == http.MethodHead && errors.As(err, &se) && se.Code == http.StatusMethodNotAllowed {
				continue
			}
			return "", err
		}
		if d := resp.Header.Get("Docker-Content-Digest"); d != "" {
			if !validDigest(d) {
				return "", fmt.Errorf("registry sent a malformed digest %q", clip(d))
			}
			return d, nil
		}
		if method == http.MethodGet {
			sum := sha256.Sum256(body)
			return "sha256:" + hex.EncodeToString(sum[:]), nil
		}
	}
	return "", fmt.Errorf("registry sent no manifest digest for %s", u)
}

func (r *Resolver) manifest(ctx context.Context, method, u, token string) (*http.Response, []byte, error) {
	resp, body, err := r.do(ctx, r.client, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, method, u, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", manifestAccept)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		return req, nil
	})
	if err != nil {
		// do drops the response on errors; the 401 challenge is needed.
		var se *StatusError
		if errors.As(err, &se) && se.Code == http.StatusUnauthorized {
			return &http.Response{Header: se.Header}, nil, err
		}
	}
	return resp, body, err
}

// registryToken runs the anonymous Bearer token flow for a 401 challenge
// `Bearer realm="…",service="…",scope="…"` of registry, after checkRealm
// accepted the realm; redirects of the token request are checked the same
// way, and every connection but to the registry itself must reach a public
// address (authClient).
func (r *Resolver) registryToken(ctx context.Context, registry *url.URL, challenge string) (string, error) {
	scheme, params, _ := strings.Cut(challenge, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", fmt.Errorf("registry wants %q authentication; only anonymous Bearer tokens are supported", clip(scheme))
	}
	p := parseChallenge(params)
	realm := p["realm"]
	ru, err := url.Parse(realm)
	if err != nil || realm == "" || (ru.Scheme != "https" && ru.Scheme != "http") || ru.Host == "" {
		return "", fmt.Errorf("registry sent a bad token realm %q", clip(realm))
	}
	if err := r.checkRealm(registry, ru); err != nil {
		return "", err
	}
	q := ru.Query()
	for _, k := range []string{"service", "scope"} {
		if v := p[k]; v != "" {
			q.Set(k, v)
		}
	}
	ru.RawQuery = q.Encode()
	ctx = context.WithValue(ctx, redirectCheckKey{}, func(u *url.URL) error { return r.checkRealm(registry, u) })
	if !r.opts.AllowPrivate {
		ctx = context.WithValue(ctx, guardKey{}, canonicalHost(registry))
	}
	_, body, err := r.do(ctx, r.authClient, func(ctx context.Context) (*http.Request, error) {
		return http.NewRequestWithContext(ctx, http.MethodGet, ru.String(), nil)
	})
	if err != nil {
		return "", fmt.Errorf("get registry token: %w", err)
	}
	var tok struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil {
		return "", fmt.Errorf("decode registry token: %w", err)
	}
	if tok.Token == "" {
		tok.Token = tok.AccessToken
	}
	if tok.Token == "" {
		return "", errors.New("registry token answer has no token")
	}
	return tok.Token, nil
}

// parseChallenge parses k="v",k2="v2" (values may be unquoted).
func parseChallenge(s string) map[string]string {
	out := map[string]string{}
	for s = strings.TrimSpace(s); s != ""; {
		k, rest, ok := strings.Cut(s, "=")
		if !ok {
			break
		}
		k = strings.ToLower(strings.TrimSpace(k))
		var v string
		if strings.HasPrefix(rest, `"`) {
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				v, rest = rest[1:], ""
			} else {
				v, rest = rest[1:1+end], rest[2+end:]
			}
		} else {
			v, rest, _ = strings.Cut(rest, ",")
			rest = "," + rest
		}
		out[k] = v
		s = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(rest), ","))
	}
	return out
}

func validDigest(d string) bool {
	h, ok := strings.CutPrefix(d, "sha256:")
	if !ok || len(h) != 64 {
		return false
	}
	_, err := hex.DecodeString(h)
	return err == nil
}
