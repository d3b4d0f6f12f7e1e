// Package resolve turns mutable references into immutable ones over the
// network: GitHub action refs (tags, branches) into commit SHAs, container
// image tags into sha256 manifest digests, and fetches files of a repository
// at a commit (for the transitive pinning check).
//
// Tags are resolved with the GitHub REST API: GET
// /repos/{owner}/{repo}/git/ref/tags/{ref}; an annotated tag object is
// followed through /git/tags/{sha} to the commit it points at; when no tag
// matches, /git/ref/heads/{ref} is tried (tags win, as they do for GitHub
// Actions). When the API fails (rate limit, outage, no such host), the
// resolver falls back to `git ls-remote <GitBase>/<owner>/<repo>`, where the
// peeled tag (refs/tags/X^{}) wins over the tag object.
//
// Images are resolved with the OCI distribution API: HEAD (then GET)
// /v2/<name>/manifests/<tag> accepting OCI indexes and manifests and Docker
// manifest lists and v2 manifests; the digest is the Docker-Content-Digest
// header or the sha256 of the body. A 401 with a Bearer challenge is answered
// with the anonymous token flow.
//
// Every request has a timeout and is retried with exponential backoff on
// network errors, 5xx and 429 (honouring Retry-After). A Resolver caches its
// answers and is safe for concurrent use.
package resolve
