package advisory

import (
	"strings"
	"testing"
)

func TestEmbeddedParses(t *testing.T) {
	recs, err := loadEmbedded(embeddedFS)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) == 0 {
		t.Fatal("no embedded records")
	}
	for _, r := range recs {
		if !r.IsMalicious() {
			t.Errorf("embedded record %s is not classified as malicious", r.ID)
		}
		if !strings.HasPrefix(r.ID, "MAL-") && len(r.References) == 0 {
			t.Errorf("embedded record %s has no MAL id and no references", r.ID)
		}
		if r.Summary == "" || r.Details == "" {
			t.Errorf("embedded record %s lacks summary or details", r.ID)
		}
	}
	if got := Embedded().Len(); got != len(recs) {
		t.Errorf("Embedded().Len() = %d, want %d", got, len(recs))
	}
}

// TestEmbeddedKnownAttacks checks the curated set against the public facts
// it was written from (docs: research attacks.md).
func TestEmbeddedKnownAttacks(t *testing.T) {
	db := Embedded()
	hits := []struct{ eco, name, version, id string }{
		{"npm", "axios", "1.14.1", "MAL-2026-2307"},
		{"npm", "axios", "0.30.4", "MAL-2026-2307"},
		{"npm", "plain-crypto-js", "4.2.1", "MAL-2026-2306"},
		{"npm", "@ctrl/tinycolor", "4.1.1", "MAL-2025-47141"},
		{"npm", "@ctrl/tinycolor", "4.1.2", "MAL-2025-47141"},
		{"npm", "@ctrl/deluge", "1.2.0", "BUILDWALL-2025-0001"},
		{"npm", "rxnt-authentication", "0.0.3", "MAL-2025-47294"},
		{"npm", "posthog-node", "5.13.3", "MAL-2025-190925"},
		{"npm", "nx", "21.5.0", "MAL-2025-41443"},
		{"npm", "nx", "20.12.0", "MAL-2025-41443"},
		{"npm", "@nx/devkit", "20.9.0", "MAL-2025-41443"},
		{"npm", "@nx/eslint", "21.5.0", "MAL-2025-41443"},
		{"npm", "@nx/enterprise-cloud", "3.2.0", "MAL-2025-41443"},
		{"npm", "chalk", "5.6.1", "MAL-2025-46969"},
		{"npm", "debug", "4.4.2", "MAL-2025-46974"},
		{"npm", "ansi-styles", "6.2.2", "MAL-2025-46967"},
		{"npm", "strip-ansi", "7.1.1", "MAL-2025-46980"},
		{"npm", "ansi-regex", "6.2.1", "MAL-2025-46966"},
		{"npm", "supports-color", "10.2.1", "MAL-2025-46981"},
		{"npm", "wrap-ansi", "9.0.1", "MAL-2025-46983"},
		{"npm", "color-convert", "3.1.1", "MAL-2025-46971"},
		{"npm", "color-name", "2.0.1", "MAL-2025-46972"},
		{"npm", "color-string", "2.1.1", "MAL-2025-46973"},
		{"npm", "error-ex", "1.3.3", "MAL-2025-46975"},
		{"npm", "is-arrayish", "0.3.3", "MAL-2025-46977"},
		{"npm", "slice-ansi", "7.1.1", "MAL-2025-46979"},
		{"npm", "simple-swizzle", "0.2.3", "MAL-2025-46978"},
		{"npm", "has-ansi", "6.0.1", "MAL-2025-46976"},
		{"npm", "supports-hyperlinks", "4.1.1", "MAL-2025-46982"},
		{"npm", "chalk-template", "1.1.1", "MAL-2025-46970"},
		{"npm", "backslash", "0.2.1", "MAL-2025-46968"},
		{"npm", "ngx-bootstrap", "18.1.4", "MAL-2025-47197"},
		{"npm", "ngx-bootstrap", "19.0.4", "MAL-2025-47197"},
		{"npm", "ngx-bootstrap", "20.0.5", "MAL-2025-47197"},
		{"npm", "@zapier/zapier-sdk", "0.15.6", "MAL-2025-190648"},
		{"npm", "@crowdstrike/commitlint", "8.1.2", "MAL-2025-47233"},
		{"npm", "ua-parser-js", "0.7.29", "GHSA-pjwm-rvh2-c87w"},
		{"npm", "ua-parser-js", "0.8.0", "GHSA-pjwm-rvh2-c87w"},
		{"npm", "ua-parser-js", "1.0.0", "GHSA-pjwm-rvh2-c87w"},
		{"npm", "event-stream", "3.3.6", "GHSA-mh6f-8j2x-4483"},
		{"npm", "flatmap-stream", "0.1.1", "MAL-2025-20690"},
		{"npm", "@opengov/form-builder", "0.12.3", "MAL-2026-2210"},
		{"PyPI", "litellm", "1.82.7", "MAL-2026-2144"},
		{"PyPI", "LiteLLM", "1.82.8", "MAL-2026-2144"},
		{"PyPI", "telnyx", "4.87.2", "MAL-2026-2254"},
		{"PyPI", "ultralytics", "8.3.41", "BUILDWALL-2024-0001"},
		{"PyPI", "ultralytics", "8.3.46", "BUILDWALL-2024-0001"},
		{"PyPI", "torchtriton", "3.0.0", "BUILDWALL-2022-0001"},
		{"GitHub Actions", "tj-actions/changed-files", "v45", "GHSA-mrrh-fwg8-r2c3"},
		{"GitHub Actions", "tj-actions/changed-files", "0e58ed8671d6b60d0890c21b07f8835ace038e67", "GHSA-mrrh-fwg8-r2c3"},
		{"GitHub Actions", "reviewdog/action-setup", "v1", "BUILDWALL-2025-0002"},
		{"GitHub Actions", "reviewdog/action-shellcheck", "v1", "BUILDWALL-2025-0002"},
		{"GitHub Actions", "aquasecurity/trivy-action", "0.34.2", "GHSA-69fq-xp46-6x23"},
		{"GitHub Actions", "aquasecurity/trivy-action", "ddb9da4475c1cef7d5389062bdfdfbdbd1394648", "GHSA-69fq-xp46-6x23"},
		{"GitHub Actions", "aquasecurity/setup-trivy", "0.2.3", "GHSA-69fq-xp46-6x23"},
		{"GitHub Actions", "checkmarx/kics-github-action", "v2", "BUILDWALL-2026-0001"},
		{"GitHub Actions", "Checkmarx/ast-github-action", "v2.3.28", "BUILDWALL-2026-0001"},
	}
	for _, h := range hits {
		ms := db.Lookup(h.eco, h.name, h.version)
		if len(ms) != 1 || ms[0].ID != h.id {
			t.Errorf("Lookup(%q, %q, %q) = %+v, want one match %s", h.eco, h.name, h.version, ms, h.id)
		}
	}
	misses := []struct{ eco, name, version string }{
		{"npm", "axios", "1.14.0"},
		{"npm", "axios", "0.30.3"},
		{"npm", "plain-crypto-js", "4.2.0"},
		{"npm", "ua-parser-js", "0.7.30"},
		{"npm", "nx", "21.4.0"},
		{"npm", "chalk", "5.6.0"},
		{"npm", "chalk", "5.6.2"},
		{"npm", "debug", "4.4.1"},
		{"npm", "debug", "4.4.3"},
		{"npm", "strip-ansi", "7.1.0"},
		{"npm", "chalk-template", "1.1.2"},
		{"npm", "ngx-bootstrap", "19.0.5"},
		{"npm", "ngx-bootstrap", "20.0.7"},
		{"npm", "ngx-bootstrap", "18.1.3"},
		{"npm", "@zapier/zapier-sdk", "0.15.8"},
		{"npm", "@crowdstrike/commitlint", "8.1.3"},
		{"npm", "@crowdstrike/commitlint", "8.1.0"},
		{"PyPI", "litellm", "1.82.6"},
		{"PyPI", "ultralytics", "8.3.47"},
		{"GitHub Actions", "tj-actions/changed-files", "v46.0.1"},
		{"GitHub Actions", "aquasecurity/trivy-action", "0.35.0"},
		{"GitHub Actions", "aquasecurity/trivy-action", "57a97c7e7821a5776cebc9bb87c984fa69cba8f1"},
		{"GitHub Actions", "aquasecurity/setup-trivy", "3fb12ec12f41e471780db15c232d5dd185dcb514"},
		{"GitHub Actions", "Checkmarx/ast-github-action", "v2.3.27"},
	}
	for _, m := range misses {
		if ms := db.Lookup(m.eco, m.name, m.version); len(ms) != 0 {
			t.Errorf("Lookup(%q, %q, %q) = %+v, want no match", m.eco, m.name, m.version, ms)
		}
	}
}
