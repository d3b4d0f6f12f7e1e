package finding

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSortOrdersByPathLineSeverity(t *testing.T) {
	fs := []Finding{
		{Rule: "b", Severity: SeverityLow, Location: Location{Path: "b.yml", Line: 1}},
		{Rule: "z", Severity: SeverityLow, Location: Location{Path: "a.yml", Line: 2, Column: 1}},
		{Rule: "a", Severity: SeverityCritical, Location: Location{Path: "a.yml", Line: 2, Column: 9}},
		{Rule: "c", Severity: SeverityMedium, Location: Location{Path: "a.yml", Line: 1}},
	}
	var got []string
	for _, f := range Sort(fs) {
		got = append(got, f.Rule)
	}
	if diff := cmp.Diff([]string{"c", "a", "z", "b"}, got); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
}

func TestSuppressedNeverCounts(t *testing.T) {
	fs := []Finding{
		{Rule: "a", Severity: SeverityCritical, Suppressed: &Suppression{Kind: SuppressionExternal, Reason: "vetted", Source: "buildwall.yml:3"}},
		{Rule: "b", Severity: SeverityLow},
	}
	if got := Max(fs); got != SeverityLow {
		t.Errorf("Max = %v, want low: a suppressed critical must not fail the gate", got)
	}
	if got := CountSuppressed(fs); got != 1 {
		t.Errorf("CountSuppressed = %d, want 1", got)
	}
	if got := Active(fs); len(got) != 1 || got[0].Rule != "b" {
		t.Errorf("Active = %+v, want only b", got)
	}
	if got := Max(fs[:1]); got != SeverityNone {
		t.Errorf("Max of only suppressed = %v, want none", got)
	}
}

func TestSortKeepsSuppressedAndActiveTwins(t *testing.T) {
	f := Finding{Rule: "a", Severity: SeverityHigh, Location: Location{Path: "x", Line: 1}}
	s := f
	s.Suppressed = &Suppression{Kind: SuppressionInSource, Reason: "r"}
	if got := Sort([]Finding{f, s}); len(got) != 2 {
		t.Errorf("Sort merged an active finding into its suppressed twin: %d left", len(got))
	}
}

// TestFingerprintStable: the fingerprint is the first 16 bytes of the
// SHA-256 of the fields joined by NULs, as it always was, so code-scanning
// alerts keep their identity across versions.
func TestFingerprintStable(t *testing.T) {
	for _, f := range []Finding{
		{Rule: "r", Location: Location{Path: "a/b"}, Message: "m"},
		{Rule: "malicious-package", Location: Location{Path: "package-lock.json", Line: 3}, Message: strings.Repeat("x", 600),
			Package: &Package{Ecosystem: "npm", Name: "axios", Version: "1.14.1"}},
	} {
		pkg := ""
		if f.Package != nil {
			pkg = f.Package.Ecosystem + "\x00" + f.Package.Name + "\x00" + f.Package.Version
		}
		sum := sha256.Sum256([]byte(f.Rule + "\x00" + f.Path + "\x00" + pkg + "\x00" + f.Message))
		if got, want := f.Fingerprint(), hex.EncodeToString(sum[:])[:32]; got != want {
			t.Errorf("Fingerprint() = %s, want %s", got, want)
		}
	}
}
