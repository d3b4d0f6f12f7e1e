package testutil

import (
	"fmt"
	"strings"
)

// Generators of adversarial inputs for resource tests (AssertLinear). Each
// makes about n bytes.

// Fill returns head, then unit(0), unit(1), ... until about n bytes, then
// tail.
func Fill(n int, head string, unit func(i int) string, tail string) []byte {
	var b strings.Builder
	b.Grow(n + len(tail) + 256)
	b.WriteString(head)
	for i := 0; b.Len() < n; i++ {
		b.WriteString(unit(i))
	}
	b.WriteString(tail)
	return []byte(b.String())
}

// Repeat is a Fill unit that is always s.
func Repeat(s string) func(int) string { return func(int) string { return s } }

// Nested returns open×k + mid + close×k with k chosen to make about n
// bytes.
func Nested(n int, open, mid, close string) string {
	k := max(1, (n-len(mid))/(len(open)+len(close)))
	return strings.Repeat(open, k) + mid + strings.Repeat(close, k)
}

// AliasBomb returns YAML mapping entries, each line starting with indent,
// that define anchor levels l0, l1, ..., each a flow sequence of ten
// aliases of the level before, up to about n bytes: expanded, nine levels
// already make a billion nodes.
func AliasBomb(n int, indent string) string {
	var b strings.Builder
	b.WriteString(indent + "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; b.Len() < n; i++ {
		p := fmt.Sprintf("*l%d", i-1)
		fmt.Fprintf(&b, "%sl%d: &l%d [%s]\n", indent, i, i, strings.Repeat(p+", ", 9)+p)
	}
	return b.String()
}

// DeepBlock returns YAML block mappings nested one in the other ("k:"
// lines, each indented one more space, the first by indent) up to about n
// bytes: the depth grows as the square root of the size.
func DeepBlock(n, indent int) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		b.WriteString(strings.Repeat(" ", indent+i) + "k:\n")
	}
	return b.String()
}
