package lockcheck

import "strings"

// specFamily says what kind of dependency spec a string is, after
// normalisation, so that a lockfile's recorded spec is compared with
// package.json's only when both went through the same normalisation.
type specFamily int

const (
	specOther specFamily = iota // dist-tags, tarball URLs, file:, link:, ...: compared verbatim only
	specRange                   // an npm semver range ("^1.2.0", berry's "npm:^1.2.0")
	specAlias                   // "npm:name@range"
	specGit                     // git URLs and hosted shorthands ("user/repo", "github:user/repo")
)

// normSpec normalises a dependency spec the way package managers record it:
// yarn berry writes "npm:^1.2.0" for "^1.2.0" and
// "https://github.com/user/repo.git" for "user/repo"; pnpm and npm write the
// spec verbatim. Hosted git specs become "<host>:<user>/<repo>#<ref>".
func normSpec(spec string) (specFamily, string) {
	s := strings.TrimSpace(spec)
	if rest, ok := strings.CutPrefix(s, "npm:"); ok {
		if name, rng, isAlias := cutAlias(rest); isAlias {
			_, r := normSpec(rng)
			return specAlias, "npm:" + name + "@" + r
		}
		s = rest
	}
	if s == "" || s == "*" || isRangeSpec(s) {
		return specRange, s
	}
	if g, ok := normGit(s); ok {
		return specGit, g
	}
	return specOther, s
}

// cutAlias splits the part of an alias spec after "npm:" ("bar@^1",
// "@scope/bar@^1") at the '@' that ends the name.
func cutAlias(s string) (name, rng string, ok bool) {
	if len(s) < 2 {
		return "", "", false
	}
	i := strings.IndexByte(s[1:], '@')
	if i < 0 {
		return "", "", false
	}
	return s[:i+1], s[i+2:], true
}

// hostedGit maps the hosts that have package-manager shorthands to them.
var hostedGit = map[string]string{"github.com": "github", "gitlab.com": "gitlab", "bitbucket.org": "bitbucket"}

// normGit normalises a git spec. ok is false when spec is not one.
func normGit(spec string) (string, bool) {
	repo, ref, _ := strings.Cut(spec, "#")
	for _, p := range [...]string{"commit=", "head=", "tag="} {
		ref = strings.TrimPrefix(ref, p)
	}
	if ref != "" {
		ref = "#" + ref
	}
	for _, h := range [...]string{"github:", "gitlab:", "bitbucket:"} {
		if r, ok := strings.CutPrefix(repo, h); ok {
			return h + strings.TrimSuffix(r, ".git") + ref, true
		}
	}
	if isShorthand(repo) {
		return "github:" + repo + ref, true
	}
	lower := strings.ToLower(repo)
	isGit := strings.HasPrefix(lower, "git+") || strings.HasPrefix(lower, "git://") ||
		strings.HasPrefix(lower, "git@") || strings.HasPrefix(lower, "ssh://")
	repo = strings.TrimPrefix(repo, "git+")
	var host, path string
	if scheme := strings.Index(repo, "://"); scheme >= 0 {
		host, path, _ = strings.Cut(repo[scheme+3:], "/")
	} else if at := strings.IndexByte(repo, '@'); at >= 0 && strings.Contains(repo[at:], ":") {
		host, path, _ = strings.Cut(repo[at+1:], ":") // scp form git@host:user/repo
	} else {
		return "", false
	}
	if at := strings.LastIndexByte(host, '@'); at >= 0 {
		host = host[at+1:]
	}
	host = strings.ToLower(host)
	isGit = isGit || strings.HasSuffix(path, ".git")
	path = strings.TrimSuffix(path, ".git")
	if short, ok := hostedGit[host]; ok && strings.Count(path, "/") == 1 {
		return short + ":" + path + ref, true
	}
	if !isGit {
		return "", false
	}
	return host + "/" + path + ref, true
}

// isShorthand reports whether s is GitHub's "user/repo" shorthand.
func isShorthand(s string) bool {
	if strings.Count(s, "/") != 1 || strings.ContainsAny(s, ":@ ") || strings.HasPrefix(s, ".") || strings.HasPrefix(s, "~") {
		return false
	}
	user, repo, _ := strings.Cut(s, "/")
	return user != "" && repo != ""
}

// specsDiffer reports whether the spec a lockfile recorded for a direct
// dependency shows that package.json changed since. Specs are compared only
// when both are of a family that normalises the same way (ranges, npm:
// aliases, git), after normalisation; a spec of another kind (dist-tag,
// tarball URL, local path) may have been rewritten by the package manager
// in ways we do not model, so it never differs here and only presence and
// range satisfaction are checked.
func specsDiffer(recorded, declared string) bool {
	fr, r := normSpec(recorded)
	fd, d := normSpec(declared)
	if fr == specOther || fd == specOther {
		return false
	}
	return fr != fd || r != d
}

// rangeOf returns the semver range of a spec for satisfaction checks and
// the version stripped of an alias prefix ("lodash@4.17.20" as pnpm records
// an aliased version): the range part of an npm: alias, else spec itself.
func rangeOf(spec, version string) (string, string) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(spec), "npm:")
	if !ok {
		return spec, version
	}
	name, rng, isAlias := cutAlias(rest)
	if !isAlias {
		return rest, version
	}
	return rng, strings.TrimPrefix(version, name+"@")
}
