// Package ciconfig parses CI configuration — GitHub Actions workflows, local
// composite and Docker actions (action.yml), and (in their own files)
// Dockerfiles and GitLab CI — into typed trees whose every node carries the
// 1-based line and column of the key or value it came from.
//
// Parsers take bytes and never read files; they never report findings
// (package cicheck does). A file that cannot be parsed yields a *ParseError
// with the position of the problem. Trees hold the source bytes (Source) so
// that rules can point at an offset inside a scalar, such as one expression
// in the middle of a multi-line run: block.
//
// Workflows are read by a fast front end first (fastyaml*.go: a reader for
// the YAML subset workflows use; fastworkflow.go, fastjob.go, fastevents.go:
// the conversion, mirroring actionlint's parser check by check). It accepts
// only what it can prove actionlint reads without error and to the same
// Workflow; everything else, errors included, goes through actionlint.
// Differential tests and FuzzFastWorkflow keep the two paths equal.
//
// Shared vocabulary for every CI file kind lives in types.go (Pos, String,
// ParseError, Source) and in uses.go and image.go (action and image
// reference parsing).
package ciconfig
