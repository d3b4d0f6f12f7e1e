// Package e2e holds end-to-end tests of the buildwall binary: they build
// it, run `buildwall run` as root and as an unprivileged user, and check
// exit codes, reports, event streams and error messages. It has no
// non-test code.
package e2e
