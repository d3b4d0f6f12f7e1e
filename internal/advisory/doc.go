// Package advisory is buildwall's malicious-package database: OSV records
// (ossf/malicious-packages MAL-* records, GHSA advisories classified as
// malware, and buildwall's own curated BUILDWALL-* records), a compact local
// index built from OSV exports, and fast lookup by ecosystem, name and
// version.
//
// A curated set of high-profile malicious releases is compiled into the
// binary (Embedded), so scans work offline out of the box. Update ingests an
// OSV export (an ecosystem all.zip, a local directory tree of records, or an
// http(s) URL of a zip) into an index under DefaultDir; Open merges that
// index with the embedded records.
//
// Matching follows the OSV schema: affected[].versions lists (exact, after
// ecosystem-specific normalisation) and ECOSYSTEM/SEMVER ranges with
// introduced/fixed/last_affected/limit events; withdrawn records never
// match; records that alias one another are reported once.
package advisory
