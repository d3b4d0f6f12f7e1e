package cicheck

import (
	"bytes"

	"github.com/buildwall/buildwall/internal/ciconfig"
	"github.com/buildwall/buildwall/internal/finding"
)

var secretsInheritRule = finding.Rule{
	ID:       "secrets-inherit",
	Severity: finding.SeverityMedium,
	Summary:  "A reusable workflow is called with secrets: inherit, or toJSON(secrets) exposes every secret at once.",
	Fix:      "Pass only the secrets the called workflow needs (secrets: NAME: ${{ secrets.NAME }}); never serialize the whole secrets context.",
	Help: "`secrets: inherit` hands every repository and organization secret to the called workflow, and `toJSON(secrets)` puts all of them " +
		"into one value (an environment variable, a file, a log line). A compromise of one step then leaks everything instead of what it needed.",
}

var secretsInherit = Rule{Rule: secretsInheritRule, Workflow: checkSecretsInheritWorkflow, Action: checkSecretsInheritAction}

func checkSecretsInheritWorkflow(c *Context, w *ciconfig.Workflow, report func(finding.Finding)) {
	for _, j := range w.Jobs {
		if j.SecretsInherit != nil && j.Uses != nil {
			report(c.at(&secretsInheritRule, *j.SecretsInherit,
				"job "+j.ID.Value+" passes every secret to "+j.Uses.Value+" with `secrets: inherit`",
				"List only the secrets "+j.Uses.Value+" needs under `secrets:` (NAME: ${{ secrets.NAME }})."))
		}
	}
	checkToJSONSecrets(c, w.Source, report)
}

func checkSecretsInheritAction(c *Context, a *ciconfig.Action, report func(finding.Finding)) {
	checkToJSONSecrets(c, a.Source, report)
}

// checkToJSONSecrets scans the whole file: toJSON(secrets) is as bad in an
// env: value or an if: as in a script. It looks at each "secrets" and
// checks for "toJSON(" before and ")" after (case-insensitively, spaces
// allowed), which is much cheaper than a regular expression over the file.
func checkToJSONSecrets(c *Context, src *ciconfig.Source, report func(finding.Finding)) {
	b := src.Bytes()
	for at := 0; ; {
		i := bytes.Index(b[at:], []byte("secrets"))
		if i < 0 {
			return
		}
		i += at
		at = i + len("secrets")
		start, end := toJSONAround(b, i)
		if start < 0 || !insideExpression(b, start) {
			continue
		}
		report(c.at(&secretsInheritRule, src.PosOf(start),
			string(b[start:end])+" serializes every secret of the repository and organization into one value",
			"Reference only the secrets needed, one by one (${{ secrets.NAME }})."))
	}
}

// toJSONAround returns the span of "toJSON( secrets )" around the word
// secrets at offset i, or -1.
func toJSONAround(b []byte, i int) (int, int) {
	j := i - 1
	for j >= 0 && (b[j] == ' ' || b[j] == '\t') {
		j--
	}
	if j < 0 || b[j] != '(' {
		return -1, -1
	}
	j -= len("tojson")
	if j < 0 || !bytes.EqualFold(b[j:j+len("tojson")], []byte("tojson")) || (j > 0 && isWordByte(b[j-1])) {
		return -1, -1
	}
	k := i + len("secrets")
	for k < len(b) && (b[k] == ' ' || b[k] == '\t') {
		k++
	}
	if k >= len(b) || b[k] != ')' {
		return -1, -1
	}
	return j, k + 1
}

// insideExpression reports whether offset i lies inside a ${{ }}
// expression (so a YAML comment that mentions toJSON(secrets) is not
// reported).
func insideExpression(b []byte, i int) bool {
	open := bytes.LastIndex(b[:i], []byte("${{"))
	return open >= 0 && !bytes.Contains(b[open:i], []byte("}}"))
}
