// Package advisory is buildwall's malicious-package database: OSV records
// (ossf/malicious-packages MAL-* records, GHSA advisories classified as
// malware, and buildwall's own curated BUILDWALL-* records), a compact local
// index built from OSV exports, and fast lookup by ecosystem, name and
// version.
//
// A curated set of high-profile malicious releases is compiled into the
// binary (Embedded), so scans work offline out of the box. Update ingests an
// OSV export (an ecosystem all.zip, a local directory tree of records, or an
// https URL of a zip, SHA-256 verified when a digest is given or published)
// into an index under DefaultDir, reading one bounded entry at a time; Open
// overlays that index on the embedded records, which local data can extend
// but never withdraw or narrow (see Conflict).
//
// Matching follows the OSV schema: affected[].versions lists (exact, after
// ecosystem-specific normalisation) and ECOSYSTEM/SEMVER ranges with
// introduced/fixed/last_affected/limit events; withdrawn records never
// match; records that alias one another are reported once.
package advisory
