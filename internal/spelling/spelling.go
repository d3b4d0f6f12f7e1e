// Package spelling finds the known word a misspelt one was meant to be, so
// that a typo in configuration (a policy key, a preset, a config key) is an
// error that says "did you mean ...".
package spelling

import "strings"

// maxLen bounds the words compared: configuration words are short, and a
// long hostile value must not cost more than a fixed amount.
const maxLen = 64

// Closest returns the candidate nearest to word (case-insensitive) by
// optimal string alignment distance (insertions, deletions, substitutions
// and transpositions of adjacent letters), or "" when none is close: at
// most 1 edit for words of up to 4 letters, 2 for longer ones. An exact
// match is returned as is. Ties go to the earlier candidate.
func Closest(word string, candidates []string) string {
	w := strings.ToLower(word)
	if len(w) > maxLen {
		return ""
	}
	best, bestD := "", -1
	for _, c := range candidates {
		lc := strings.ToLower(c)
		if len(lc) > maxLen {
			continue
		}
		limit := 1
		if len(lc) > 4 {
			limit = 2
		}
		d := distance(w, lc)
		if d <= limit && (bestD < 0 || d < bestD) {
			best, bestD = c, d
		}
	}
	return best
}

// Hint returns `; did you mean "X"?` for Closest's answer, "" for none.
func Hint(word string, candidates []string) string {
	if c := Closest(word, candidates); c != "" && !strings.EqualFold(c, word) {
		return `; did you mean "` + c + `"?`
	}
	return ""
}

// distance is the optimal string alignment distance between a and b
// (bytes), in O(len(a)*len(b)) time.
func distance(a, b string) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
