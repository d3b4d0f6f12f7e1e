package pin

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/buildwall/buildwall/internal/termsafe"
)

// context is the number of unchanged lines around each hunk.
const diffContext = 3

// writeDiff writes a unified diff of a and b to w, labelled name. pin's
// splices never add or remove a line break, so the lines of a and b
// correspond one to one and the diff is computed line by line, without an
// edit-distance search; it reports an error when the line counts differ.
func writeDiff(w io.Writer, name string, a, b []byte) error {
	la, lb := splitLines(a), splitLines(b)
	if len(la) != len(lb) {
		return fmt.Errorf("diff %s: line count changed from %d to %d", name, len(la), len(lb))
	}
	var changed []int
	for i := range la {
		if !bytes.Equal(la[i], lb[i]) {
			changed = append(changed, i)
		}
	}
	if len(changed) == 0 {
		return nil
	}
	var buf bytes.Buffer
	name = termsafe.String(name)
	fmt.Fprintf(&buf, "--- a/%s\n+++ b/%s\n", name, name)
	for i := 0; i < len(changed); {
		// Group changes whose context overlaps into one hunk.
		j := i
		for j+1 < len(changed) && changed[j+1]-changed[j] <= 2*diffContext+1 {
			j++
		}
		lo := max(0, changed[i]-diffContext)
		hi := min(len(la), changed[j]+diffContext+1)
		n := hi - lo
		fmt.Fprintf(&buf, "@@ -%s +%s @@\n", hunkRange(lo, n), hunkRange(lo, n))
		k := i
		for l := lo; l < hi; {
			if k > j || changed[k] != l {
				writeLine(&buf, ' ', la[l])
				l++
				continue
			}
			// A run of changed lines: all old lines, then all new ones.
			m := k
			for m+1 <= j && changed[m+1] == changed[m]+1 {
				m++
			}
			end := changed[m] + 1
			for x := l; x < end; x++ {
				writeLine(&buf, '-', la[x])
			}
			for x := l; x < end; x++ {
				writeLine(&buf, '+', lb[x])
			}
			k, l = m+1, end
		}
		i = j + 1
	}
	_, err := w.Write(buf.Bytes())
	return err
}

func hunkRange(lo, n int) string {
	if n == 1 {
		return fmt.Sprint(lo + 1)
	}
	return fmt.Sprintf("%d,%d", lo+1, n)
}

// writeLine writes one diff line; a line without a final newline gets the
// usual marker. Control characters other than tabs and a line ending's
// "\r\n" are escaped (termsafe), so a hostile file cannot put escape
// sequences or workflow commands into the log a dry run is printed to.
func writeLine(buf *bytes.Buffer, op byte, line []byte) {
	body := bytes.TrimSuffix(line, []byte("\n"))
	eol := line[len(body):]
	if cr := bytes.TrimSuffix(body, []byte("\r")); len(eol) > 0 && len(cr) < len(body) {
		body, eol = cr, line[len(cr):]
	}
	parts := strings.Split(string(op)+string(body), "\t")
	for i, p := range parts {
		if i > 0 {
			buf.WriteByte('\t')
		}
		buf.WriteString(termsafe.String(p))
	}
	buf.Write(eol)
	if !bytes.HasSuffix(line, []byte("\n")) {
		buf.WriteString("\n\\ No newline at end of file\n")
	}
}

// splitLines splits b after each '\n'; the last line may lack one.
func splitLines(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			out = append(out, b)
			break
		}
		out = append(out, b[:i+1])
		b = b[i+1:]
	}
	return out
}
