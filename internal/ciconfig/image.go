package ciconfig

import "strings"

// Image is a parsed container image reference
// [registry/]repository[:tag][@algorithm:digest].
type Image struct {
	// Name is everything before the tag and digest, registry included.
	Name string
	// Tag is "" when the reference has none.
	Tag string
	// Digest is "algorithm:hex" (e.g. "sha256:…"), "" when absent.
	Digest string
}

// ParseImage splits an image reference. It does not validate it; a value
// with ${{ }} or $VAR is split like any other (see IsDynamicImage).
func ParseImage(s string) Image {
	var im Image
	if i := strings.IndexByte(s, '@'); i >= 0 {
		s, im.Digest = s[:i], s[i+1:]
	}
	// A ':' after the last '/' separates the tag; one before it is a
	// registry port.
	slash := strings.LastIndexByte(s, '/')
	if i := strings.LastIndexByte(s, ':'); i > slash {
		s, im.Tag = s[:i], s[i+1:]
	}
	im.Name = s
	return im
}

// Pinned reports whether the reference carries a sha256 digest.
func (im Image) Pinned() bool {
	d, ok := strings.CutPrefix(im.Digest, "sha256:")
	return ok && len(d) == 64 && IsCommitSHA(d)
}

// String reassembles the reference.
func (im Image) String() string {
	s := im.Name
	if im.Tag != "" {
		s += ":" + im.Tag
	}
	if im.Digest != "" {
		s += "@" + im.Digest
	}
	return s
}

// IsDynamicImage reports whether s is computed at run time (contains an
// expression or variable) and so cannot be checked statically.
func IsDynamicImage(s string) bool {
	return strings.Contains(s, "${{") || strings.Contains(s, "$")
}
