package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/buildwall/buildwall/internal/advisory"
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

func newDBUpdateCmd(env *Env) *cobra.Command {
	var from, dir string
	cmd := &cobra.Command{
		Use:   "update --from FILE|DIR|URL [--db DIR]",
		Short: "Build the local index from an OSV export",
		Long: `Update reads OSV records from --from: an ecosystem all.zip export (a local file
or an http(s) URL), or a local directory tree of *.json records such as a
checkout of ossf/malicious-packages. Malicious records (MAL-*, and GHSA or
other advisories marked as malware) are kept; ordinary vulnerabilities are
left out. Everything is verified before the old index is replaced: a corrupt
archive, an interrupted download or a source without usable records leaves
the old index in place. Download progress goes to standard error.`,
		Example: `  # From an OSV ecosystem export downloaded earlier
  buildwall db update --from ./npm-all.zip

  # From a checkout of ossf/malicious-packages, into a project-local directory
  buildwall db update --from ./malicious-packages/osv --db .buildwall-db

  # From a mirror over HTTPS
  buildwall db update --from https://mirror.example/osv/npm/all.zip`,
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
			if !strings.HasPrefix(src, "http://") && !strings.HasPrefix(src, "https://") {
				src = env.path(src)
			}
			var res advisory.UpdateResult
			err = interruptible(cmd.Context(), func() (err error) {
				res, err = advisory.Update(cmd.Context(), advisory.UpdateOptions{Dir: d, From: src, Progress: env.Stderr})
				return err
			})
			if err != nil {
				return internalError(fmt.Errorf("db update: %w", err))
			}
			printUpdate(env.Stdout, res)
			return nil
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "OSV export: a .zip file, a directory of *.json records, or an http(s) URL of a zip")
	cmd.Flags().StringVar(&dir, "db", "", "database directory (default $BUILDWALL_DB, else the user cache directory)")
	return cmd
}

func printUpdate(w io.Writer, res advisory.UpdateResult) {
	fmt.Fprintf(w, "Updated %s from %s\n", res.Path, res.Source)
	fmt.Fprintf(w, "  records:  %d (%s)", res.Records, ecosystemList(res.Ecosystems))
	if res.Withdrawn > 0 {
		fmt.Fprintf(w, ", %d withdrawn", res.Withdrawn)
	}
	fmt.Fprintln(w)
	if res.NotMalicious > 0 {
		fmt.Fprintf(w, "  left out: %d ordinary vulnerabilities (not malicious)\n", res.NotMalicious)
	}
	if res.Skipped > 0 {
		fmt.Fprintf(w, "  skipped:  %d entries that are not usable OSV records\n", res.Skipped)
		for _, r := range res.SkipReasons {
			fmt.Fprintf(w, "            %s\n", r)
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
				return internalError(fmt.Errorf("db status: %w", err))
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
}

func writeStatusJSON(w io.Writer, st advisory.Status, now time.Time) error {
	out := statusJSON{
		Schema: "buildwall.db-status/v1", Index: st.IndexPath, EmbeddedOnly: st.EmbeddedOnly,
		Source: st.Source, Records: st.Records, Withdrawn: st.Withdrawn,
		EmbeddedRecords: st.EmbeddedRecords, Ecosystems: st.Ecosystems,
	}
	if out.Ecosystems == nil {
		out.Ecosystems = []advisory.EcosystemCount{}
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
		fmt.Fprintf(w, "  index:    %s (not present); only the embedded records are in use\n", st.IndexPath)
		fmt.Fprintln(w, "            run 'buildwall db update --from FILE|DIR|URL' to add an OSV export")
	default:
		fmt.Fprintf(w, "  index:    %s\n", st.IndexPath)
		fmt.Fprintf(w, "  updated:  %s from %s\n", st.UpdatedAt.UTC().Format("2006-01-02 15:04 UTC"), st.Source)
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
