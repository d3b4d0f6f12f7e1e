package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/buildwall/buildwall/internal/advisory"
	"github.com/buildwall/buildwall/internal/atomicfile"
	"github.com/buildwall/buildwall/internal/config"
	"github.com/buildwall/buildwall/internal/finding"
	"github.com/buildwall/buildwall/internal/output"
	"github.com/buildwall/buildwall/internal/scan"
	"github.com/buildwall/buildwall/internal/termsafe"
	"github.com/buildwall/buildwall/internal/treefs"
)

// scanDefaults resolves the package managers' default registries; tests
// replace it so they never depend on the machine's npm configuration.
var scanDefaults = scan.ClientDefaults

type scanFlags struct {
	format  string
	output  string
	failOn  string
	color   string
	config  string
	db      string
	offline bool
	online  bool
	timeout time.Duration
	// configFrom is the trusted git revision to read configuration from.
	configFrom string
	noIgnores  bool
	exclude    []string
	vendored   bool
}

func newScanCmd(env *Env) *cobra.Command {
	var fl scanFlags
	cmd := &cobra.Command{
		Use:   "scan [PATH...]",
		Short: "Scan lockfiles for supply-chain risks before anything is installed",
		Long: `Scan walks each PATH (default ".") for JavaScript lockfiles (package-lock.json,
npm-shrinkwrap.json, yarn.lock, pnpm-lock.yaml, bun.lock), package.json
manifests and CI configuration, skipping directories named testdata,
node_modules, vendor and .git (--include-vendored walks them) and paths
matching --exclude or scan.exclude, and
reports malicious, unpinned, unverifiable or misplaced packages and unsafe
CI settings. It never uses the network unless --online is given; then it also
fetches the action.yml of every remote action (GitHub REST API, $GITHUB_API_URL,
$GITHUB_TOKEN) and reports uses: inside it that are not pinned to a commit SHA.
Run 'buildwall rules' for the list.

Configuration is read from buildwall.yml at the repository root (or --config).
In a pull request that file and the registry configuration (.npmrc, .yarnrc,
.yarnrc.yml, pnpm-workspace.yaml) come from the branch's author: with
--config-from REF they are read from the trusted git revision REF (the base
branch) instead. With REF, or else origin/$GITHUB_BASE_REF (GitHub) or
origin/$CI_MERGE_REQUEST_TARGET_BRANCH_NAME (GitLab) when set, every change
in the tree that weakens the gate (higher fail-on, new ignores, registries or
install-script allows) is a gate-weakened finding that no ignore suppresses,
and the trusted configuration applies.
The malicious-package database is the embedded curated set merged with the
local index that 'buildwall db update' maintains (--db or $BUILDWALL_DB).

A finding is suppressed by a scan.ignore entry of buildwall.yml or by a
comment '# buildwall: ignore[rule-id] reason' on its line or the line above
(workflows, action.yml, Dockerfiles, GitLab CI; never lockfiles); both may end on a date (until: 2027-01-31,
until=2027-01-31), after which they are ignore-expired findings. Suppressed
findings are kept in JSON and SARIF, marked, and never fail the gate;
ignores that match nothing are ignore-unused. --no-ignores reports all.

Only regular files inside each PATH are read: a symbolic link leading
outside, a FIFO, socket or device, and anything unreadable is reported as
unscanned-path (high) and never read.

Paths in reports are relative to the repository root (the nearest directory
holding .git, else the scanned directory). Findings matched by a scan.ignore
are reported as suppressed and never fail the scan. With $GITHUB_STEP_SUMMARY
set and no --output, the Markdown report is appended to the job summary.

Exit codes: 0 nothing at or above --fail-on, 1 findings at or above it,
2 usage or configuration error, or nothing to scan, 3 buildwall itself
failed or was interrupted (SIGINT/SIGTERM: the report written is partial
and marked incomplete).`,
		Example: `  # Gate the current repository (fails on high and critical findings)
  buildwall scan

  # Scan the bundled example
  buildwall scan examples/vulnerable-app

  # JSON for machines; only malicious packages fail the build
  buildwall scan --format json --fail-on critical --output findings.json

  # A pull request, with the base branch's configuration
  buildwall scan --config-from origin/main

  # SARIF for code scanning, never failing
  buildwall scan --format sarif --output buildwall.sarif --fail-on none

  # GitHub Actions annotations; the Markdown report goes to $GITHUB_STEP_SUMMARY
  buildwall scan --format github`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return interruptible(cmd.Context(), func() error { return runScan(cmd.Context(), env, cmd, fl, args) })
		},
	}
	f := cmd.Flags()
	f.StringVar(&fl.format, "format", "text", "output format: text, json, sarif, markdown or github (workflow-command annotations)")
	f.StringVarP(&fl.output, "output", "o", "", "write the report to `FILE` instead of standard output (\"-\" is standard output); replaced atomically, checked writable before the scan")
	f.StringVar(&fl.color, "color", "auto", "color the text format: auto (a terminal and NO_COLOR unset), always or never")
	f.StringVar(&fl.failOn, "fail-on", "high", "exit 1 when a finding is at or above this severity: none, low, medium, high or critical")
	f.StringVar(&fl.config, "config", "", "configuration `FILE` (default: buildwall.yml at the repository root)")
	f.StringVar(&fl.db, "db", "", "malicious-package database `DIR` (default: $BUILDWALL_DB or the user cache directory)")
	f.BoolVar(&fl.offline, "offline", false, "accepted for clarity: without --online scan never uses the network")
	f.BoolVar(&fl.online, "online", false, "also check the actions that remote actions use (fetches their action.yml)")
	f.DurationVar(&fl.timeout, "timeout", 30*time.Second, "timeout of each network request with --online")
	f.StringVar(&fl.configFrom, "config-from", "", "read buildwall.yml and registry configuration from the git revision `REF` (a pull request's base, e.g. origin/main) and report changes in the tree that weaken the gate (default: origin/$GITHUB_BASE_REF when set)")
	f.BoolVar(&fl.noIgnores, "no-ignores", false, "report every finding: ignore neither buildwall.yml's scan.ignore nor inline '# buildwall: ignore[...]' comments")
	f.StringArrayVar(&fl.exclude, "exclude", nil, "skip paths matching `GLOB` (repeatable; a pattern without '/' matches a name at any depth, '**' any directories)")
	f.BoolVar(&fl.vendored, "include-vendored", false, "also walk directories named testdata, node_modules, vendor and .git, skipped by default")
	return cmd
}

func runScan(ctx context.Context, env *Env, cmd *cobra.Command, fl scanFlags, args []string) error {
	if fl.output == "-" {
		fl.output = "" // the usual spelling of standard output
	}
	if fl.online && fl.offline {
		return usageError(errors.New("--online and --offline are mutually exclusive"))
	}
	if fl.timeout <= 0 {
		return usageError(errors.New("--timeout must be positive"))
	}
	format, err := output.ParseFormat(fl.format)
	if err != nil {
		return usageError(fmt.Errorf("--format: %w", err))
	}
	failOn, err := finding.ParseSeverity(fl.failOn)
	if err != nil {
		return usageError(fmt.Errorf("--fail-on: %w", err))
	}
	if fl.color != "auto" && fl.color != "always" && fl.color != "never" {
		return usageError(fmt.Errorf("--color: unknown value %q (want auto, always or never)", fl.color))
	}
	if fl.output != "" {
		// Fail before a long scan, not after it, on an output path that
		// cannot be written.
		if err := atomicfile.Check(env.path(fl.output)); err != nil {
			return usageError(fmt.Errorf("--output: %w", err))
		}
	}
	paths := args
	if len(paths) == 0 {
		paths = []string{"."}
	}
	abs := make([]string, len(paths))
	for i, p := range paths {
		abs[i] = env.path(p)
	}
	base := scan.Base(abs)
	excludes := make([]config.Glob, 0, len(fl.exclude))
	for _, p := range fl.exclude {
		g, err := config.CompileGlob(p)
		if err != nil {
			return usageError(fmt.Errorf("--exclude %q: %w", p, err))
		}
		excludes = append(excludes, g)
	}
	branchCfg, cfgPath, cfgFindings, err := loadScanConfig(env, fl.config, abs[0], base)
	if err != nil {
		return usageError(err)
	}
	tin := trustInput{
		flag: fl, roots: abs, names: paths, branch: branchCfg, branchPath: cfgPath,
		failOnFixed: cmd.Flags().Changed("fail-on"), base: base,
	}
	trusted, err := resolveTrust(ctx, env, tin)
	if err != nil {
		return err
	}
	cfg := trusted.cfg
	if !cmd.Flags().Changed("fail-on") && cfg.Scan.FailOn != nil {
		failOn = *cfg.Scan.FailOn
	}
	db, err := openDB(env, fl.db)
	if err != nil {
		return internalUnlessCoded(err)
	}
	notes := dbNotes(db.Status(), time.Now())
	cfgSource := config.FileName
	if cfgPath != "" {
		cfgSource = findingPath(tin, cfgPath)
	}
	res, err := scan.Run(ctx, scan.Options{
		Paths:      abs,
		Config:     cfg,
		Advisories: db,
		Defaults:   scanDefaults(ctx, env.getenv),
		Trust:      trusted.opt,
		Base:       base,
		NoIgnores:  fl.noIgnores,
		ConfigPath: cfgSource,
		Exclude:    excludes,

		IncludeVendored: fl.vendored,
	})
	if errors.Is(err, scan.ErrNoSuchPath) || errors.Is(err, scan.ErrNotRegular) || errors.Is(err, treefs.ErrSpecialFS) {
		return usageError(err)
	}
	interrupted := err != nil && res != nil && res.Incomplete && ctx.Err() != nil
	if err != nil && !interrupted {
		return internalError(err)
	}
	if extra := append(cfgFindings, trusted.findings...); len(extra) > 0 {
		res.Findings = finding.Sort(append(res.Findings, extra...))
	}
	if fl.online && !interrupted {
		res.Warnings = append(res.Warnings, scanOnline(ctx, env, paths, abs, onlineIgnores(cfg, fl.noIgnores, cfgSource, res), res, fl.timeout)...)
		interrupted = ctx.Err() != nil
	}
	for _, w := range append(res.Warnings, notes...) {
		fmt.Fprintf(env.Stderr, "buildwall: warning: %s\n", termsafe.String(w))
	}
	if len(res.Files) == 0 && len(res.Findings) == 0 && !interrupted {
		// Most often a CI job pointed at the wrong directory: a gate that
		// checked nothing must not pass.
		return usageError(fmt.Errorf("nothing to scan under %s: no lockfile, package.json or CI configuration found", termsafe.String(strings.Join(paths, ", "))))
	}
	report := output.Report{
		ToolVersion: Version,
		Roots:       paths,
		Files:       res.Files,
		Findings:    res.Findings,
		Rules:       res.Rules,
		Incomplete:  interrupted,
		Base:        res.Base,
		Notes:       notes,
	}
	if err := writeReport(env, fl.output, format, fl.color, report); err != nil {
		return internalError(err)
	}
	if p := env.getenv("GITHUB_STEP_SUMMARY"); p != "" && fl.output == "" && !sameFile(env.Stdout, env.path(p)) {
		// A report written to a file is for another tool (the SARIF
		// upload); the step that prints it writes the job summary. Markdown
		// already redirected there (>> "$GITHUB_STEP_SUMMARY") is not
		// written twice.
		if err := appendStepSummary(env.path(p), report); err != nil {
			fmt.Fprintf(env.Stderr, "buildwall: warning: $GITHUB_STEP_SUMMARY: %s\n", termsafe.String(err.Error()))
		}
	}
	if interrupted {
		return internalError(fmt.Errorf("%w: the report is partial (marked incomplete)", errInterrupted))
	}
	if format != output.FormatText || fl.output != "" {
		fmt.Fprintln(env.Stderr, summaryLine(res, failOn))
	}
	if failOn != finding.SeverityNone && finding.Max(res.Findings) >= failOn {
		return withCode(ExitFindings, nil)
	}
	return nil
}

// path resolves p against the environment's working directory.
func (e *Env) path(p string) string {
	if e.Dir == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(e.Dir, p)
}

// loadScanConfig reads --config, or buildwall.yml found from the first
// scan path, and checks that its ignores name real rules; path is the
// file's absolute path ("" for none). A missing default file is an empty
// configuration. A found file that cannot be read safely (a link out of the
// repository, a FIFO, a device, unreadable) is not read: the scan runs
// without it (path "") and reports it as unscanned-path, one of the
// returned findings. Every other problem is an error for the user (exit 2).
func loadScanConfig(env *Env, flagPath, firstPath, base string) (cfg *config.Config, path string, findings []finding.Finding, err error) {
	p := flagPath
	dir := firstPath
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		dir = filepath.Dir(dir)
	}
	switch {
	case p != "":
		p = env.path(p)
		cfg, err = config.Load(p)
	default:
		if p = config.Find(dir); p == "" {
			return &config.Config{}, "", nil, nil
		}
		cfg, err = config.LoadFound(p)
		var ce *config.Error
		if err != nil && !errors.As(err, &ce) {
			rel, ok := scan.RelTo(base, p)
			if !ok {
				r, rerr := filepath.Rel(dir, p)
				if rerr != nil {
					r = p
				}
				rel = filepath.ToSlash(r)
			}
			return &config.Config{}, "", []finding.Finding{scan.Unscanned(rel, configReason(err))}, nil
		}
	}
	if err != nil {
		return nil, "", nil, err
	}
	if err := checkConfigRules(cfg); err != nil {
		return nil, "", nil, err
	}
	if path, err = filepath.Abs(p); err != nil {
		return nil, "", nil, err
	}
	return cfg, path, nil, nil
}

// configReason explains why buildwall.yml was not read.
func configReason(err error) error {
	switch {
	case errors.Is(err, treefs.ErrOutside):
		return errors.New("it is a symbolic link whose target is outside the repository; the target was not read and the scan ran without this configuration")
	case errors.Is(err, treefs.ErrNotRegular):
		return errors.New("it is not a regular file (FIFO, device or directory); it was not opened and the scan ran without this configuration")
	}
	if u := errors.Unwrap(err); u != nil {
		err = u // the system error, without the absolute path
	}
	return fmt.Errorf("it cannot be read (%w); the scan ran without this configuration", err)
}

// openDB opens the malicious-package database: --db, $BUILDWALL_DB, or the
// default cache directory. Without a cache directory the embedded set is
// used alone.
func openDB(env *Env, flagDir string) (*advisory.DB, error) {
	dir := flagDir
	if dir != "" {
		dir = env.path(dir)
		// A directory named on purpose that is not there is a typo or a
		// missing cache restore: falling back to the embedded records
		// would pass a gate that checked against far less than asked.
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return nil, usageError(fmt.Errorf("--db %s: not a directory (create it with 'buildwall db update --db %s', or leave --db out to use the default)", termsafe.String(flagDir), termsafe.String(flagDir)))
		}
	} else if d := env.getenv("BUILDWALL_DB"); d != "" {
		dir = env.path(d)
	} else {
		d, err := advisory.DefaultDir()
		if err != nil {
			return advisory.Embedded(), nil
		}
		dir = d
	}
	db, err := advisory.Open(dir)
	if errors.Is(err, advisory.ErrCorruptIndex) {
		return nil, fmt.Errorf("open malicious-package database: %w (recover with 'buildwall db update', which rewrites the index, or remove %s to use the embedded records only)", err, filepath.Join(dir, advisory.IndexFile))
	}
	if err != nil {
		return nil, fmt.Errorf("open malicious-package database: %w", err)
	}
	if n := len(db.Status().Conflicts); n > 0 {
		fmt.Fprintf(env.Stderr, "buildwall: note: %d records in the local malicious-package database try to withdraw or change built-in records; the built-in records stay in force (see 'buildwall db status')\n", n)
	}
	return db, nil
}

// staleAfter is the age from which the local database is called stale.
const staleAfter = 7 * 24 * time.Hour

// dbNotes returns the caveats about the malicious-package database for
// the report and stderr: embedded records only, or a local index older
// than staleAfter.
func dbNotes(st advisory.Status, now time.Time) []string {
	switch {
	case st.EmbeddedOnly:
		return []string{fmt.Sprintf("the malicious-package database is the %d records built into buildwall only (newest %s); run 'buildwall db update' for current data",
			st.Records, dateOf(st.Newest))}
	case !st.UpdatedAt.IsZero() && now.Sub(st.UpdatedAt) > staleAfter:
		return []string{fmt.Sprintf("the malicious-package database was last updated %s, %d days ago; run 'buildwall db update'",
			dateOf(st.UpdatedAt), int(now.Sub(st.UpdatedAt)/(24*time.Hour)))}
	}
	return nil
}

func dateOf(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format(time.DateOnly)
}

// writeReport writes the report to stdout, or replaces file atomically
// (atomicfile): on any error, a full disk included, the old file is left
// as it was.
func writeReport(env *Env, file string, format output.Format, color string, r output.Report) error {
	if file == "" {
		opts := output.Options{Color: format == output.FormatText && useColor(env, color, env.Stdout)}
		return output.Write(env.Stdout, format, r, opts)
	}
	f, err := atomicfile.Create(env.path(file), 0o644)
	if err != nil {
		return fmt.Errorf("create report: %w", err)
	}
	opts := output.Options{Color: format == output.FormatText && color == "always"}
	if err := output.Write(f, format, r, opts); err != nil {
		return errors.Join(err, f.Abort())
	}
	return f.Commit()
}

// useColor decides --color: always, never, or auto (w is a terminal and
// NO_COLOR is unset).
func useColor(env *Env, color string, w io.Writer) bool {
	switch color {
	case "always":
		return true
	case "never":
		return false
	}
	return output.ColorEnabled(w, env.getenv)
}

// sameFile reports whether w is the open file at path.
func sameFile(w io.Writer, path string) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Stat(path)
	return err == nil && os.SameFile(a, b)
}

// appendStepSummary appends the Markdown report to the GitHub job summary
// file, as run does.
func appendStepSummary(path string, r output.Report) (err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, f.Close()) }()
	return output.Write(f, output.FormatMarkdown, r, output.Options{})
}

// summaryLine is the one-line verdict printed on stderr when stdout carries
// a machine format or the report goes to a file. Its counts are the text
// format's: findings in force, the files they are in, the files scanned,
// then the suppressed findings.
func summaryLine(res *scan.Result, failOn finding.Severity) string {
	active := finding.Active(res.Findings)
	counts := map[finding.Severity]int{}
	inFiles := map[string]bool{}
	for _, f := range active {
		counts[f.Severity]++
		inFiles[f.Path] = true
	}
	var parts []string
	for s := finding.SeverityCritical; s >= finding.SeverityLow; s-- {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "buildwall: %s", countOf(len(active), "finding"))
	if len(parts) > 0 {
		fmt.Fprintf(&b, " (%s) in %s", strings.Join(parts, ", "), countOf(len(inFiles), "file"))
	}
	fmt.Fprintf(&b, "; %s scanned", countOf(len(res.Files), "file"))
	if n := finding.CountSuppressed(res.Findings); n > 0 {
		fmt.Fprintf(&b, ", %d suppressed", n)
	}
	if failOn == finding.SeverityNone {
		b.WriteString("; --fail-on none")
	} else if finding.Max(res.Findings) >= failOn {
		fmt.Fprintf(&b, "; failing: findings at or above %s", failOn)
	} else {
		fmt.Fprintf(&b, "; passing: nothing at or above %s", failOn)
	}
	return b.String()
}

// countOf returns "1 file" or "3 files".
func countOf(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
