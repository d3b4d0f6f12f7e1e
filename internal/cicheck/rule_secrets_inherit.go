package cicheck

import (
	"bytes"
	"regexp"

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

var toJSONSecrets = regexp.MustCompile(`(?i)tojson\(\s*secrets\s*\)`)

// checkToJSONSecrets scans the whole file: toJSON(secrets) is as bad in an
// env: value or an if: as in a script.
func checkToJSONSecrets(c *Context, src *ciconfig.Source, report func(finding.Finding)) {
	b := src.Bytes()
	if !bytes.Contains(b, []byte("ecrets")) && !bytes.Contains(b, []byte("ECRETS")) {
		return
	}
	for _, m := range toJSONSecrets.FindAllIndex(b, -1) {
		report(c.at(&secretsInheritRule, src.PosOf(m[0]),
			string(b[m[0]:m[1]])+" serializes every secret of the repository and organization into one value",
			"Reference only the secrets needed, one by one (${{ secrets.NAME }})."))
	}
}
