package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/buildwall/buildwall/internal/advisory"
	"github.com/buildwall/buildwall/internal/termsafe"
)

// dbNow is the clock `db status` measures data age with; tests replace it.
var dbNow = time.Now

func newDBCmd(env *Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "db",
		Short: "Manage the malicious-package database (OSV format)",
		Long: `The malicious-package database holds OSV records of malicious package
versions and compromised GitHub Actions: ossf/malicious-packages MAL-*
records, GitHub advisories classified as malware, and a curated set compiled
into buildwall so that scans work offline.

'db update' builds a compact local index from an OSV export; 'db status'
shows what is in use. The database directory is --db, else $BUILDWALL_DB,
else buildwall/db in the user cache directory.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newDBUpdateCmd(env), newDBStatusCmd(env))
	return cmd
}

// dbDir resolves the database directory: --db, $BUILDWALL_DB, or the
// default under the user cache directory.
func dbDir(env *Env, flagDir string) (string, error) {
	if flagDir != "" {
		return env.path(flagDir), nil
	}
	if d := env.getenv("BUILDWALL_DB"); d != "" {
		return env.path(d), nil
	}
	d, err := advisory.DefaultDir()
	if err != nil {
		return "", fmt.Errorf("%w (set --db or BUILDWALL_DB)", err)
	}
	return d, nil
}

// dbClient downloads for `db update`; nil means advisory's default client.
// Tests replace it with one that trusts their TLS server.
var dbClient *http.Client

func newDBUpdateCmd(env *Env) *cobra.Command {
	var from, dir, sum string
	cmd := &cobra.Command{
		Use:   "update --from FILE|DIR|URL [--sha256 HEX] [--db DIR]",
		Short: "Build the local index from an OSV export",
		Long: `Update reads OSV records from --from: an ecosystem all.zip export (a local file
or an https URL), or a local directory tree of *.json records such as a
checkout of ossf/malicious-packages. Malicious records (MAL-*, and GHSA or
other advisories marked as malware) are kept; ordinary vulnerabilities are
left out.

Sources are https or local: plain http (and a redirect to it) is refused.
The archive's SHA-256 is checked against --sha256 HEX when given, else
against the checksum published beside it (URL.sha256, or FILE.sha256 for a
local archive) when there is one; standard error says when there is none.

Everything is verified before the old index is replaced: a checksum
mismatch, a corrupt archive, an archive over the size limits (a zip bomb),
an interrupted download or a source without usable records leaves the old
index in place. Records cannot withdraw or narrow the records built into
buildwall; such records are listed as conflicts. Download progress goes to
standard error.

Exit codes: 0 updated; 2 usage error (plain http source, malformed
--sha256, --sha256 with a directory); 3 not updated (download failed,
checksum mismatch, corrupt or oversized archive, no usable records), the
old index still in use.`,
		Example: `  # From an OSV ecosystem export downloaded earlier
  buildwall db update --from ./npm-all.zip

  # From a checkout of ossf/malicious-packages, into a project-local directory
  buildwall db update --from ./malicious-packages/osv --db .buildwall-db

  # From a mirror over HTTPS, pinned to a known digest
  buildwall db update --from https://mirror.example/osv/npm/all.zip --sha256 9f86d08...`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" {
				return usageError(errors.New("db update: --from FILE|DIR|URL is required"))
			}
			d, err := dbDir(env, dir)
			if err != nil {
				return internalError(fmt.Errorf("db update: %w", err))
			}
			src := from
			if !strings.Contains(src, "://") {
				src = env.path(src)
			}
			var res advisory.UpdateResult
			err = interruptible(cmd.Context(), func() (err error) {
				res, err = advisory.Update(cmd.Context(), advisory.UpdateOptions{
					Dir: d, From: src, SHA256: sum, Progress: env.Stderr, Client: dbClient,
				})
				return err
			})
			switch {
			case errors.Is(err, advisory.ErrInsecureSource), errors.Is(err, advisory.ErrInvalidOptions):
				return usageError(fmt.Errorf("db update: %w", escapedError{err}))
			case err != nil:
				return internalError(fmt.Errorf("db update: %w; the previous index is still in use", escapedError{err}))
			}
			printUpdate(env.Stdout, res)
			return nil
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "OSV export: a .zip file, a directory of *.json records, or an https URL of a zip")
	cmd.Flags().StringVar(&sum, "sha256", "", "expected SHA-256 of the archive (64 hex digits); default: the published FROM.sha256, if any")
	cmd.Flags().StringVar(&dir, "db", "", "database directory (default $BUILDWALL_DB, else the user cache directory)")
	return cmd
}

// escapedError prints err with control characters escaped: its text
// carries what servers and archives chose (certificate names, entry
// names). It unwraps to err.
type escapedError struct{ err error }

func (e escapedError) Error() string { return termsafe.String(e.err.Error()) }
func (e escapedError) Unwrap() error { return e.err }

func printUpdate(w io.Writer, res advisory.UpdateResult) {
	fmt.Fprintf(w, "Updated %s from %s\n", termsafe.String(res.Path), termsafe.String(res.Source))
	switch {
	case res.ChecksumFrom != "":
		fmt.Fprintf(w, "  sha256:   %s (matches %s)\n", res.SHA256, termsafe.String(res.ChecksumFrom))
	case res.SHA256 != "":
		fmt.Fprintf(w, "  sha256:   %s (not verified: no checksum given or published)\n", res.SHA256)
	}
	fmt.Fprintf(w, "  records:  %d (%s)", res.Records, ecosystemList(res.Ecosystems))
	if res.Withdrawn > 0 {
		fmt.Fprintf(w, ", %d withdrawn", res.Withdrawn)
	}
	fmt.Fprintln(w)
	if res.NotMalicious > 0 {
		fmt.Fprintf(w, "  left out: %d ordinary vulnerabilities (not malicious)\n", res.NotMalicious)
	}
	writeConflicts(w, res.Conflicts)
	if res.Skipped > 0 {
		fmt.Fprintf(w, "  skipped:  %d entries that are not usable OSV records\n", res.Skipped)
		for _, r := range res.SkipReasons {
			fmt.Fprintf(w, "            %s\n", termsafe.String(r))
		}
	}
}

func ecosystemList(ecos []advisory.EcosystemCount) string {
	parts := make([]string, len(ecos))
	for i, e := range ecos {
		parts[i] = fmt.Sprintf("%s %d", e.Ecosystem, e.Records)
	}
	return strings.Join(parts, ", ")
}

func newDBStatusCmd(env *Env) *cobra.Command {
	var dir, format string
	cmd := &cobra.Command{
		Use:   "status [--db DIR] [--format text|json]",
		Short: "Show records per ecosystem and how old the data is",
		Example: `  buildwall db status
  buildwall db status --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "text" && format != "json" {
				return usageError(fmt.Errorf("db status: unknown --format %q (want text or json)", format))
			}
			d, err := dbDir(env, dir)
			var db *advisory.DB
			if err != nil {
				db = advisory.Embedded() // no cache directory: nothing else can exist
			} else if db, err = advisory.Open(d); err != nil {
				return internalError(fmt.Errorf("db status: %w", escapedError{err}))
			}
			st := db.Status()
			if format == "json" {
				return writeStatusJSON(env.Stdout, st, dbNow())
			}
			writeStatusText(env.Stdout, st, dbNow())
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "db", "", "database directory (default $BUILDWALL_DB, else the user cache directory)")
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	return cmd
}

// statusJSON is the schema of `db status --format json`.
type statusJSON struct {
	Schema          string                    `json:"schema"`
	Index           string                    `json:"index"`
	EmbeddedOnly    bool                      `json:"embedded_only"`
	UpdatedAt       *time.Time                `json:"updated_at,omitempty"`
	Source          string                    `json:"source,omitempty"`
	Records         int                       `json:"records"`
	Withdrawn       int                       `json:"withdrawn"`
	EmbeddedRecords int                       `json:"embedded_records"`
	Ecosystems      []advisory.EcosystemCount `json:"ecosystems"`
	NewestModified  *time.Time                `json:"newest_modified,omitempty"`
	AgeDays         *int                      `json:"age_days,omitempty"`
	// FutureDated counts records dated after the index was written,
	// left out of newest_modified.
	FutureDated int `json:"future_dated"`
	// Conflicts lists local records that tried to withdraw, narrow or
	// rename a built-in record (which stays in force).
	Conflicts []advisory.Conflict `json:"conflicts"`
}

func writeStatusJSON(w io.Writer, st advisory.Status, now time.Time) error {
	out := statusJSON{
		Schema: "buildwall.db-status/v1", Index: st.IndexPath, EmbeddedOnly: st.EmbeddedOnly,
		Source: st.Source, Records: st.Records, Withdrawn: st.Withdrawn,
		EmbeddedRecords: st.EmbeddedRecords, Ecosystems: st.Ecosystems,
		FutureDated: st.FutureDated,
	}
	if out.Ecosystems == nil {
		out.Ecosystems = []advisory.EcosystemCount{}
	}
	out.Conflicts = st.Conflicts
	if out.Conflicts == nil {
		out.Conflicts = []advisory.Conflict{}
	}
	if !st.UpdatedAt.IsZero() {
		t := st.UpdatedAt.UTC()
		out.UpdatedAt = &t
	}
	if !st.Newest.IsZero() {
		t := st.Newest.UTC()
		days := ageDays(st.Newest, now)
		out.NewestModified, out.AgeDays = &t, &days
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return internalError(fmt.Errorf("db status: write: %w", err))
	}
	return nil
}

func writeStatusText(w io.Writer, st advisory.Status, now time.Time) {
	fmt.Fprintln(w, "Malicious-package database")
	switch {
	case st.IndexPath == "":
		fmt.Fprintln(w, "  index:    none (no cache directory); only the embedded records are in use")
	case st.EmbeddedOnly:
		fmt.Fprintf(w, "  index:    %s (not present); only the embedded records are in use\n", termsafe.String(st.IndexPath))
		fmt.Fprintln(w, "            run 'buildwall db update --from FILE|DIR|URL' to add an OSV export")
	default:
		fmt.Fprintf(w, "  index:    %s\n", termsafe.String(st.IndexPath))
		fmt.Fprintf(w, "  updated:  %s from %s\n", st.UpdatedAt.UTC().Format("2006-01-02 15:04 UTC"), termsafe.String(st.Source))
	}
	fmt.Fprintf(w, "  records:  %d", st.Records)
	if st.Withdrawn > 0 {
		fmt.Fprintf(w, " (and %d withdrawn)", st.Withdrawn)
	}
	fmt.Fprintf(w, ", %d of them embedded\n", st.EmbeddedRecords)
	nameW, numW := 0, 0
	for _, e := range st.Ecosystems {
		nameW = max(nameW, len(e.Ecosystem))
		numW = max(numW, len(fmt.Sprint(e.Records)))
	}
	for _, e := range st.Ecosystems {
		fmt.Fprintf(w, "    %-*s  %*d\n", nameW, e.Ecosystem, numW, e.Records)
	}
	if !st.Newest.IsZero() {
		fmt.Fprintf(w, "  newest:   %s (%s)\n", st.Newest.UTC().Format("2006-01-02"), ageText(st.Newest, now))
	}
	if st.FutureDated > 0 {
		fmt.Fprintf(w, "  future:   %d records dated after the index was written (not counted as fresh data)\n", st.FutureDated)
	}
	writeConflicts(w, st.Conflicts)
}

// maxConflictLines bounds the conflicts listed in text output; the JSON
// output lists all of them.
const maxConflictLines = 20

// writeConflicts lists local records that tried to change built-in ones.
func writeConflicts(w io.Writer, cs []advisory.Conflict) {
	if len(cs) == 0 {
		return
	}
	fmt.Fprintf(w, "  conflicts: %d attempts by local records to change built-in records (the built-in records stay in force):\n", len(cs))
	for i, c := range cs {
		if i == maxConflictLines {
			fmt.Fprintf(w, "            ... and %d more (see --format json)\n", len(cs)-i)
			break
		}
		fmt.Fprintf(w, "            %s\n", termsafe.String(c.Describe()))
	}
}

func ageDays(t, now time.Time) int { return int(now.Sub(t) / (24 * time.Hour)) }

// ageText renders how old data modified at t is: "3 days old".
func ageText(t, now time.Time) string {
	if t.After(now) {
		return "dated in the future"
	}
	switch d := ageDays(t, now); d {
	case 0:
		return "less than a day old"
	case 1:
		return "1 day old"
	default:
		return fmt.Sprintf("%d days old", d)
	}
}
