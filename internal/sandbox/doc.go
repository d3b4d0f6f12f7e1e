// Package sandbox runs a command in new Linux user, network, mount and PID
// namespaces whose only way out is through listeners that buildwall serves.
//
// Create re-executes the buildwall binary (/proc/self/exe) as a hidden init
// step inside the new namespaces; the init brings up loopback, programs the
// nftables ruleset (package netfilter), creates the interception listeners
// and an nflog socket inside the sandbox's network namespace and passes them
// back over a unix socket (SCM_RIGHTS). The caller accepts on those
// listeners from the host side and dials out from the host network
// namespace. Start tells the init to run the command, with CAP_NET_ADMIN,
// CAP_NET_RAW, CAP_SYS_ADMIN and CAP_SYS_PTRACE dropped so it can neither
// rewrite the rules nor open raw or packet sockets nor take over the init,
// in a session of its own, under a seccomp filter that narrows the kernel
// surface (seccomp_linux.go) and reports what it refuses through a
// listener the parent supervises (notify_linux.go), with the run's own
// files, /run and /var/run hidden (mounts_linux.go). The init is PID 1 of the sandbox's PID namespace: when it exits, the
// kernel kills every process left in the sandbox.
//
// The package knows nothing about policy. Linux only; other systems get
// ErrNotSupported.
package sandbox
