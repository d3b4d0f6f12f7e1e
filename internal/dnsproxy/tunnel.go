package dnsproxy

import (
	"fmt"
	"hash/fnv"
	"math"
	"strings"
	"sync"
	"time"
)

// Thresholds of the tunnelling heuristics. Real host names seldom have a
// label over 50 bytes or a name over 160; exfiltration tools fill labels
// to the 63-byte limit. Base32 and hex payloads mix digits into a long
// label with a high Shannon entropy per character; long hyphenated words
// reach a high entropy too but carry no digits, so both are required.
const (
	maxLabel       = 50
	maxName        = 160
	entropyMinLen  = 24
	entropyBitsMin = 3.6
	entropyDigits  = 0.1 // minimum share of digits
	maxDomains     = 10000
)

// tunnelDetector flags names that look like data smuggled in DNS.
type tunnelDetector struct {
	unique int
	window time.Duration
	// limit bounds the unique query payload bytes per registrable domain
	// and window (see volume); 0: no bound.
	limit int

	mu      sync.Mutex
	domains map[string]map[string]time.Time // registrable domain → name → last seen
	volumes map[string]*volume              // registrable domain → payload this window
}

// volume is what one registrable domain received in the current window:
// the payload bytes of the distinct names queried (hashed, so a domain
// costs 8 bytes per name at most maxVolumeNames names).
type volume struct {
	start time.Time
	bytes int
	prev  int // bytes of the window before start
	names map[uint64]struct{}
}

// maxVolumeNames bounds the names remembered per domain and window; past
// it, every name counts as new (more payload, never less).
const maxVolumeNames = 8192

func newTunnelDetector(unique int, window time.Duration, limit int) *tunnelDetector {
	return &tunnelDetector{unique: unique, window: window, limit: limit,
		domains: map[string]map[string]time.Time{}, volumes: map[string]*volume{}}
}

// check returns why name looks like tunnelling ("" when it does not) and
// whether the reason is a hard one (a label or name no real host has, or
// a domain past its payload volume), which block mode enforces even for
// allowed domains. binary is set for TXT and NULL queries, whose answers
// carry data back: their high-entropy names count double in the volume.
func (d *tunnelDetector) check(name string, binary bool, now time.Time) (reason string, hard bool) {
	var reasons []string
	if len(name) > maxName {
		reasons = append(reasons, fmt.Sprintf("name of %d bytes", len(name)))
		hard = true
	}
	labels := strings.Split(name, ".")
	longest, entropic := 0, 0.0
	for _, l := range labels[:max(len(labels)-2, 0)] { // the registrable part is not payload
		longest = max(longest, len(l))
		if len(l) >= entropyMinLen && digitShare(l) >= entropyDigits {
			entropic = max(entropic, entropy(l))
		}
	}
	if longest > maxLabel {
		reasons = append(reasons, fmt.Sprintf("label of %d bytes", longest))
		hard = true
	}
	if entropic >= entropyBitsMin {
		reasons = append(reasons, fmt.Sprintf("high-entropy label (%.1f bits/char)", entropic))
	}
	if dom := registrable(labels); dom != "" && dom != name {
		if n := d.count(dom, name, now); n > d.unique {
			reasons = append(reasons, fmt.Sprintf("%d unique names under %s within %s", n, dom, d.window))
		}
		if d.limit > 0 {
			payload := strings.TrimSuffix(name, "."+dom)
			weight := len(payload)
			if binary && highEntropy(payload) {
				weight *= 2
			}
			if n := d.addVolume(dom, name, weight, now); n > d.limit {
				reasons = append(reasons, fmt.Sprintf("%d bytes of unique query names under %s within %s (limit %d)", n, dom, d.window, d.limit))
				hard = true
			}
		}
	}
	if len(reasons) == 0 {
		return "", false
	}
	return "dns tunnelling suspected: " + strings.Join(reasons, ", "), hard
}

// count records name under dom and returns how many different names were
// seen under dom within the window. Memory is bounded: at most 4×unique
// names per domain and maxDomains domains are kept.
func (d *tunnelDetector) count(dom, name string, now time.Time) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	names, ok := d.domains[dom]
	if !ok {
		if len(d.domains) >= maxDomains {
			d.pruneDomains(now)
		}
		names = map[string]time.Time{}
		d.domains[dom] = names
	}
	if len(names) > d.unique {
		for n, t := range names {
			if now.Sub(t) > d.window {
				delete(names, n)
			}
		}
	}
	if _, seen := names[name]; seen || len(names) < 4*d.unique {
		names[name] = now
	}
	return len(names)
}

func (d *tunnelDetector) pruneDomains(now time.Time) {
	for dom, names := range d.domains {
		stale := true
		for _, t := range names {
			if now.Sub(t) <= d.window {
				stale = false
				break
			}
		}
		if stale {
			delete(d.domains, dom)
		}
	}
	if len(d.domains) >= maxDomains {
		clear(d.domains)
	}
}

// addVolume adds weight payload bytes to dom's window unless name was
// already counted in it, and returns the volume over the last window: the
// current window's bytes plus the previous window's, weighted by how much
// of it still lies within one window of now (a sliding estimate, so a
// burst split across a window boundary is not let through twice).
// Memory is bounded like count's: maxVolumeNames names per domain,
// maxDomains domains.
func (d *tunnelDetector) addVolume(dom, name string, weight int, now time.Time) int {
	h := fnv.New64a()
	h.Write([]byte(name))
	key := h.Sum64()
	d.mu.Lock()
	defer d.mu.Unlock()
	v := d.volumes[dom]
	switch {
	case v == nil:
		if len(d.volumes) >= maxDomains {
			for k, o := range d.volumes {
				if now.Sub(o.start) >= 2*d.window {
					delete(d.volumes, k)
				}
			}
			if len(d.volumes) >= maxDomains {
				clear(d.volumes)
			}
		}
		v = &volume{start: now, names: map[uint64]struct{}{}}
		d.volumes[dom] = v
	case now.Sub(v.start) >= 2*d.window:
		*v = volume{start: now, names: map[uint64]struct{}{}}
	case now.Sub(v.start) >= d.window:
		*v = volume{start: v.start.Add(d.window), prev: v.bytes, names: map[uint64]struct{}{}}
	}
	if _, seen := v.names[key]; !seen {
		if len(v.names) < maxVolumeNames {
			v.names[key] = struct{}{}
		}
		v.bytes += weight
	}
	left := d.window - now.Sub(v.start) // of the previous window, still within one window
	return v.bytes + int(int64(v.prev)*int64(max(left, 0))/int64(d.window))
}

// highEntropy reports whether a query's payload (the labels below the
// registrable domain, dots removed) looks like encoded data: long enough,
// with digits mixed in and a high entropy per character. It catches the
// short hex and base32 labels that stay under entropyMinLen.
func highEntropy(payload string) bool {
	p := strings.ReplaceAll(payload, ".", "")
	return len(p) >= 10 && digitShare(p) >= entropyDigits && entropy(p) >= 3.0
}

// registrable approximates the registrable domain without a public suffix
// list: the last two labels, or three when the second-level label is a
// short generic one under a country code ("co.uk", "com.au").
func registrable(labels []string) string {
	n := len(labels)
	if n < 2 {
		return ""
	}
	if n >= 3 && len(labels[n-1]) == 2 && len(labels[n-2]) <= 3 {
		return strings.Join(labels[n-3:], ".")
	}
	return labels[n-2] + "." + labels[n-1]
}

// entropy is the Shannon entropy of s in bits per byte.
func entropy(s string) float64 {
	var freq [256]int
	for i := 0; i < len(s); i++ {
		freq[s[i]]++
	}
	h, n := 0.0, float64(len(s))
	for _, f := range freq {
		if f > 0 {
			p := float64(f) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}

func digitShare(s string) float64 {
	n := 0
	for i := 0; i < len(s); i++ {
		if '0' <= s[i] && s[i] <= '9' {
			n++
		}
	}
	return float64(n) / float64(len(s))
}
