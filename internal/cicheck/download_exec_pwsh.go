package cicheck

import "strings"

// PowerShell's download cradles: a web request whose text is handed to
// Invoke-Expression on the same line.
var (
	pwshFetchWords = []string{"iwr", "irm", "invoke-webrequest", "invoke-restmethod", "downloadstring", "curl", "wget"}
	pwshExecWords  = []string{"iex", "invoke-expression"}
)

// powershellDownloadExec finds `iex (iwr URL)`, `irm URL | iex`,
// `Invoke-Expression (New-Object Net.WebClient).DownloadString(URL)` and
// the like: a line with both a fetch and Invoke-Expression (in any letter
// case). Each span covers the two words and what lies between them.
func powershellDownloadExec(script string) []Span {
	if !containsFold(script, "iex") && !containsFold(script, "invoke-expression") {
		return nil
	}
	var out []Span
	for off := 0; off < len(script); {
		end := strings.IndexByte(script[off:], '\n')
		if end < 0 {
			end = len(script)
		} else {
			end += off
		}
		line := script[off:end]
		if x, xn := firstWordFold(line, pwshExecWords); x >= 0 {
			if f, fn := firstWordFold(line, pwshFetchWords); f >= 0 {
				out = append(out, Span{off + min(x, f), off + max(x+xn, f+fn)})
			}
		}
		off = end + 1
	}
	return out
}

// firstWordFold returns the offset and length of the first of words (lower
// case) that occurs in s as a whole word, ignoring ASCII case, or -1.
func firstWordFold(s string, words []string) (int, int) {
	best, n := -1, 0
	for _, w := range words {
		if i := indexWordFold(s, w); i >= 0 && (best < 0 || i < best) {
			best, n = i, len(w)
		}
	}
	return best, n
}

// indexWordFold is the offset of lower-case word in s, ignoring ASCII
// case, delimited by characters other than letters, digits, '_' and '-'.
func indexWordFold(s, word string) int {
	for i := 0; i+len(word) <= len(s); i++ {
		if !strings.EqualFold(s[i:i+len(word)], word) {
			continue
		}
		if (i == 0 || !isPwshWordByte(s[i-1])) && (i+len(word) == len(s) || !isPwshWordByte(s[i+len(word)])) {
			return i
		}
	}
	return -1
}

func isPwshWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-'
}
