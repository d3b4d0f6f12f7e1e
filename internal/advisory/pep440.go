package advisory

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// pep440 is a parsed PEP 440 version. Pre-release kinds are 0 (a), 1 (b),
// 2 (rc); -1 means absent, as do post/dev < 0.
type pep440 struct {
	epoch   uint64
	release []uint64
	preKind int
	preNum  uint64
	post    int64
	dev     int64
	local   []string
}

// parsePEP440 parses the normalisable forms PEP 440 accepts: an optional
// "v", epoch "N!", a release "N(.N)*", a pre-release (a, b, rc and their
// spellings alpha, beta, c, pre, preview), a post-release (".postN", "-N",
// "rev", "r"), a dev release and a "+local" label. Separators and case are
// normalised.
func parsePEP440(s string) (pep440, bool) {
	v := pep440{preKind: -1, post: -1, dev: -1}
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.TrimPrefix(s, "v")
	if i := strings.IndexByte(s, '+'); i >= 0 {
		local := s[i+1:]
		s = s[:i]
		if local == "" {
			return v, false
		}
		for seg := range strings.FieldsFuncSeq(local, func(r rune) bool { return r == '.' || r == '-' || r == '_' }) {
			for _, r := range seg {
				if !('a' <= r && r <= 'z' || '0' <= r && r <= '9') {
					return v, false
				}
			}
			v.local = append(v.local, seg)
		}
		if len(v.local) == 0 {
			return v, false
		}
	}
	if i := strings.IndexByte(s, '!'); i >= 0 {
		n, err := strconv.ParseUint(s[:i], 10, 64)
		if err != nil {
			return v, false
		}
		v.epoch = n
		s = s[i+1:]
	}
	// Release segment.
	for {
		n, rest, ok := leadingNumber(s)
		if !ok {
			return v, false
		}
		v.release = append(v.release, n)
		s = rest
		if len(s) >= 2 && s[0] == '.' && '0' <= s[1] && s[1] <= '9' {
			s = s[1:]
			continue
		}
		break
	}
	// Pre-release.
	if t, kind, ok := cutWord(s, [][2]string{{"alpha", "0"}, {"beta", "1"}, {"preview", "2"}, {"pre", "2"}, {"rc", "2"}, {"a", "0"}, {"b", "1"}, {"c", "2"}}); ok {
		v.preKind = int(kind[0] - '0')
		t = trimSep(t)
		if n, rest, ok := leadingNumber(t); ok {
			v.preNum, t = n, rest
		}
		s = t
	}
	// Post-release.
	if strings.HasPrefix(s, "-") && len(s) > 1 && '0' <= s[1] && s[1] <= '9' {
		n, rest, ok := leadingNumber(s[1:])
		if !ok || n > 1<<62 {
			return v, false
		}
		v.post, s = int64(n), rest
	} else if t, _, ok := cutWord(s, [][2]string{{"post", ""}, {"rev", ""}, {"r", ""}}); ok {
		t = trimSep(t)
		v.post = 0
		if n, rest, ok := leadingNumber(t); ok {
			if n > 1<<62 {
				return v, false
			}
			v.post, t = int64(n), rest
		}
		s = t
	}
	// Dev release.
	if t, _, ok := cutWord(s, [][2]string{{"dev", ""}}); ok {
		t = trimSep(t)
		v.dev = 0
		if n, rest, ok := leadingNumber(t); ok {
			if n > 1<<62 {
				return v, false
			}
			v.dev, t = int64(n), rest
		}
		s = t
	}
	return v, s == ""
}

// cutWord strips an optional separator and then the first of words that s
// starts with (longest spellings are listed first).
func cutWord(s string, words [][2]string) (rest, val string, ok bool) {
	t := trimSep(s)
	for _, w := range words {
		if strings.HasPrefix(t, w[0]) {
			return t[len(w[0]):], w[1], true
		}
	}
	return s, "", false
}

func trimSep(s string) string {
	if s != "" && (s[0] == '.' || s[0] == '-' || s[0] == '_') {
		return s[1:]
	}
	return s
}

func leadingNumber(s string) (uint64, string, bool) {
	i := 0
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, s, false
	}
	n, err := strconv.ParseUint(s[:i], 10, 64)
	if err != nil {
		return 0, s, false
	}
	return n, s[i:], true
}

// comparePEP440 orders two PyPI versions as pip does.
func comparePEP440(a, b string) (int, bool) {
	va, ok := parsePEP440(a)
	if !ok {
		return 0, false
	}
	vb, ok := parsePEP440(b)
	if !ok {
		return 0, false
	}
	return va.compare(vb), true
}

const (
	negInf = -1 << 62
	posInf = 1 << 62
)

func (v pep440) compare(w pep440) int {
	if c := cmp.Compare(v.epoch, w.epoch); c != 0 {
		return c
	}
	if c := slices.Compare(trimZeros(v.release), trimZeros(w.release)); c != 0 {
		return c
	}
	pk1, pn1 := v.preKey()
	pk2, pn2 := w.preKey()
	if c := cmp.Compare(pk1, pk2); c != 0 {
		return c
	}
	if c := cmp.Compare(pn1, pn2); c != 0 {
		return c
	}
	if c := cmp.Compare(orInf(v.post, negInf), orInf(w.post, negInf)); c != 0 {
		return c
	}
	if c := cmp.Compare(orInf(v.dev, posInf), orInf(w.dev, posInf)); c != 0 {
		return c
	}
	return compareLocal(v.local, w.local)
}

// preKey orders pre-releases; a dev release of the final version sorts
// before its pre-releases, and a final release after them.
func (v pep440) preKey() (int64, uint64) {
	switch {
	case v.preKind < 0 && v.post < 0 && v.dev >= 0:
		return negInf, 0
	case v.preKind < 0:
		return posInf, 0
	}
	return int64(v.preKind), v.preNum
}

func orInf(n, inf int64) int64 {
	if n < 0 {
		return inf
	}
	return n
}

func trimZeros(r []uint64) []uint64 {
	for len(r) > 0 && r[len(r)-1] == 0 {
		r = r[:len(r)-1]
	}
	return r
}

// compareLocal orders local labels: none sorts first; numeric segments
// compare as numbers and sort after alphanumeric ones.
func compareLocal(a, b []string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		na, errA := strconv.ParseUint(a[i], 10, 64)
		nb, errB := strconv.ParseUint(b[i], 10, 64)
		var c int
		switch {
		case errA == nil && errB == nil:
			c = cmp.Compare(na, nb)
		case errA == nil:
			c = 1
		case errB == nil:
			c = -1
		default:
			c = strings.Compare(a[i], b[i])
		}
		if c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a), len(b))
}
