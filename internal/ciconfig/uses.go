package ciconfig

import "strings"

// UsesKind classifies the target of a `uses:` value.
type UsesKind int

// Kinds of `uses:` targets.
const (
	// UsesRemote is owner/repo[/path]@ref: an action or a reusable workflow
	// in another repository.
	UsesRemote UsesKind = iota
	// UsesLocal is ./path: an action or workflow in the same repository,
	// pinned by the repository's own commit.
	UsesLocal
	// UsesDocker is docker://image[:tag][@digest].
	UsesDocker
	// UsesExpression is a value that is (or contains) a ${{ }} expression,
	// such as ${{ matrix.action }}; it cannot be resolved statically.
	UsesExpression
	// UsesInvalid is anything else (no @ref, empty owner or repository).
	UsesInvalid
)

// Uses is a parsed `uses:` value.
type Uses struct {
	Kind UsesKind
	// Owner, Repo and Path are set for UsesRemote (Path without leading
	// slash, "" for an action at the repository root). Ref is the text after
	// the last '@'.
	Owner, Repo, Path, Ref string
	// Image is set for UsesDocker.
	Image Image
}

// ParseUses parses the value of a `uses:` key. It never fails; malformed
// values get UsesInvalid.
func ParseUses(s string) Uses {
	// A block scalar (`uses: |`) keeps its final newline; GitHub reads
	// the reference without the surrounding white space.
	s = strings.TrimSpace(s)
	switch {
	case strings.Contains(s, "${{"):
		return Uses{Kind: UsesExpression}
	case strings.HasPrefix(s, "./") || strings.HasPrefix(s, "../"):
		return Uses{Kind: UsesLocal, Path: s}
	case strings.HasPrefix(s, "docker://"):
		return Uses{Kind: UsesDocker, Image: ParseImage(strings.TrimPrefix(s, "docker://"))}
	}
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return Uses{Kind: UsesInvalid}
	}
	name, ref := s[:at], s[at+1:]
	owner, rest, ok := strings.Cut(name, "/")
	if !ok || owner == "" || ref == "" {
		return Uses{Kind: UsesInvalid}
	}
	repo, path, _ := strings.Cut(rest, "/")
	if repo == "" {
		return Uses{Kind: UsesInvalid}
	}
	return Uses{Kind: UsesRemote, Owner: owner, Repo: repo, Path: path, Ref: ref}
}

// Name is owner/repo, the name advisories and pins use.
func (u Uses) Name() string { return u.Owner + "/" + u.Repo }

// FullName is owner/repo[/path].
func (u Uses) FullName() string {
	if u.Path == "" {
		return u.Name()
	}
	return u.Owner + "/" + u.Repo + "/" + u.Path
}

// IsReusableWorkflow reports whether a remote reference names a workflow
// file (owner/repo/.github/workflows/x.yml@ref) rather than an action.
func (u Uses) IsReusableWorkflow() bool {
	return u.Kind == UsesRemote && strings.HasPrefix(u.Path, ".github/workflows/")
}

// IsCommitSHA reports whether ref is a full 40-hex-digit commit SHA (or a
// 64-hex-digit SHA-256 object name).
func IsCommitSHA(ref string) bool {
	if len(ref) != 40 && len(ref) != 64 {
		return false
	}
	for i := 0; i < len(ref); i++ {
		c := ref[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
