package resolve

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/buildwall/buildwall/internal/termsafe"
)

// ErrInvalidName is wrapped by the errors of Commit, File and ValidateUses
// for an owner, repository, ref or path that GitHub would not accept. Such a
// name is refused before any URL is built from it, so that a hostile
// workflow cannot steer a request (with the token attached) to another API
// path, e.g. uses: o/r@../../../../user/keys.
var ErrInvalidName = errors.New("invalid name")

// Bounds on names; GitHub's own limits are lower (39 for owners, 100 for
// repositories).
const (
	maxOwner = 100
	maxRepo  = 100
	maxRef   = 1024
	maxPath  = 4096
)

// ValidateUses checks the parts of a uses: owner/repo[/path]@ref against
// GitHub's syntax: owner [A-Za-z0-9-], repository [A-Za-z0-9._-] other
// than "." and "..", ref per git check-ref-format, path made of non-empty
// segments other than "." and "..". Control characters, backslashes and
// percent-encoded separators are refused everywhere. path may be empty.
// The error wraps ErrInvalidName and quotes the name escaped.
func ValidateUses(owner, repo, path, ref string) error {
	if err := validOwner(owner); err != nil {
		return err
	}
	if err := validRepo(repo); err != nil {
		return err
	}
	if path != "" {
		if err := validPath(path); err != nil {
			return err
		}
	}
	return validRef(ref)
}

func invalid(what, name, why string) error {
	if len(name) > 80 {
		name = name[:80] + "…"
	}
	return fmt.Errorf("%w: %s %q %s", ErrInvalidName, what, termsafe.String(name), why)
}

func validOwner(s string) error {
	if s == "" || len(s) > maxOwner {
		return invalid("owner", s, fmt.Sprintf("must be 1 to %d characters", maxOwner))
	}
	if s[0] == '-' {
		return invalid("owner", s, "must not start with '-'")
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '-' {
			return invalid("owner", s, "may contain only letters, digits and '-'")
		}
	}
	return nil
}

func validRepo(s string) error {
	if s == "" || len(s) > maxRepo {
		return invalid("repository", s, fmt.Sprintf("must be 1 to %d characters", maxRepo))
	}
	if s == "." || s == ".." {
		return invalid("repository", s, "is not a repository name")
	}
	if s[0] == '-' {
		return invalid("repository", s, "must not start with '-'")
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '-' && c != '_' && c != '.' {
			return invalid("repository", s, "may contain only letters, digits, '.', '_' and '-'")
		}
	}
	return nil
}

// validRef applies git check-ref-format's rules to a tag or branch name
// (one-level names allowed), and refuses encoded separators.
func validRef(s string) error {
	switch {
	case s == "" || len(s) > maxRef:
		return invalid("ref", s, fmt.Sprintf("must be 1 to %d bytes", maxRef))
	case s == "@":
		return invalid("ref", s, "is not a ref name")
	case s[0] == '-':
		return invalid("ref", s, "must not start with '-'")
	case strings.HasPrefix(s, "/") || strings.HasSuffix(s, "/") || strings.Contains(s, "//"):
		return invalid("ref", s, "has an empty path component")
	case strings.HasSuffix(s, "."):
		return invalid("ref", s, "must not end with '.'")
	case strings.Contains(s, ".."):
		return invalid("ref", s, "must not contain '..'")
	case strings.Contains(s, "@{"):
		return invalid("ref", s, "must not contain '@{'")
	case strings.ContainsAny(s, " ~^:?*[\\"):
		return invalid("ref", s, `must not contain space, '~', '^', ':', '?', '*', '[' or '\'`)
	}
	if err := validText("ref", s); err != nil {
		return err
	}
	for seg := range strings.SplitSeq(s, "/") {
		if strings.HasPrefix(seg, ".") || strings.HasSuffix(seg, ".lock") {
			return invalid("ref", s, "has a component starting with '.' or ending with '.lock'")
		}
	}
	return nil
}

// validPath checks a path inside a repository (an action's directory or a
// file): relative, no empty, "." or ".." segments, no backslash.
func validPath(s string) error {
	if len(s) > maxPath {
		return invalid("path", s, fmt.Sprintf("is longer than %d bytes", maxPath))
	}
	if strings.ContainsRune(s, '\\') {
		return invalid("path", s, "must not contain '\\'")
	}
	if err := validText("path", s); err != nil {
		return err
	}
	for seg := range strings.SplitSeq(s, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return invalid("path", s, "must be relative, without empty, '.' or '..' segments")
		}
	}
	return nil
}

// validText refuses invalid UTF-8, control and bidirectional characters and
// percent-encoded separators (%2f, %5c, %2e), which a server that decodes
// twice would read as '/', '\' or '.'.
func validText(what, s string) error {
	if !utf8.ValidString(s) || termsafe.String(s) != s {
		return invalid(what, s, "contains control characters or invalid UTF-8")
	}
	for i := strings.IndexByte(s, '%'); i >= 0; {
		if i+2 < len(s) {
			switch strings.ToLower(s[i+1 : i+3]) {
			case "2f", "5c", "2e", "25":
				return invalid(what, s, "contains a percent-encoded separator")
			}
		}
		j := strings.IndexByte(s[i+1:], '%')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return nil
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// Docker's reference grammar (distribution/reference): a registry host
// with an optional port, lower-case path components joined by '/', and a
// tag of at most 128 word characters, dots and dashes.
var (
	imageHostRe = regexp.MustCompile(`^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::[0-9]{1,5})?$`)
	imageRepoRe = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$`)
	imageTagRe  = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
)

// ValidateImage checks an image reference split by SplitImage, and its
// tag ("" allowed), against Docker's reference grammar before a registry
// URL is built from them: no "..", no encoded or doubled separators, no
// control characters. The error wraps ErrInvalidName.
func ValidateImage(ref ImageRef, tag string) error {
	if len(ref.Registry) > 255 || !imageHostRe.MatchString(ref.Registry) {
		return invalid("image registry", ref.Registry, "is not a host[:port]")
	}
	if len(ref.Repository) > 255 || !imageRepoRe.MatchString(ref.Repository) {
		return invalid("image repository", ref.Repository, "is not lower-case path components separated by '/'")
	}
	if tag != "" && !imageTagRe.MatchString(tag) {
		return invalid("image tag", tag, "is not 1 to 128 letters, digits, '_', '.' and '-'")
	}
	return nil
}
