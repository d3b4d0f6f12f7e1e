// Package trust is scan's trust model for pull requests: the configuration
// that decides what the gate lets through (buildwall.yml and the package
// managers' registry files) is read from a trusted git revision, the base
// branch, rather than from the branch under scan, whose author may be the
// attacker; and every change on the branch that weakens the gate against
// that revision is a gate-weakened finding that no ignore can suppress.
//
// Revision reads files of a commit with git plumbing (no work tree, no
// shell, bounded output, a timeout); CompareConfig and Weakened make the
// findings.
package trust
