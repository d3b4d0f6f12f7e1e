#!/usr/bin/env python3
"""Interleaved before/after comparison of `buildwall scan` on the benchmark corpora.

Builds buildwall at two git revisions (BASE and HEAD, default: HEAD~1 and the
work tree), generates the 50,000-package lockfile (bench/gen) and the
2,000-workflow monorepo (bench/cigen) once, then alternates the two binaries
run by run (ABAB...), so machine noise hits both alike. Prints the medians of
wall-clock and CPU (user+sys of the child) seconds per binary and corpus, the
ratio, and whether the outputs are byte-identical.

Usage: bench/scancompare.py [--base REV] [--runs N] [--packages N] [--workflows N]
"""
import argparse, os, resource, shutil, statistics, subprocess, sys, tempfile, time

def sh(*args, **kw):
    return subprocess.run(args, check=True, **kw)

def build(root, rev, out):
    if rev == "WORKTREE":
        sh("go", "build", "-o", out, "./cmd/buildwall", cwd=root)
        return
    tree = tempfile.mkdtemp(prefix="scancompare-src-")
    try:
        sh("git", "-C", root, "worktree", "add", "--detach", "-q", tree, rev)
        sh("go", "build", "-o", out, "./cmd/buildwall", cwd=tree)
    finally:
        subprocess.run(["git", "-C", root, "worktree", "remove", "--force", tree])

def timed(binary, target, out):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    with open(out, "wb") as f:
        subprocess.run([binary, "scan", "--format", "json", "--fail-on", "none", target],
                       stdout=f, stderr=subprocess.DEVNULL, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", default="HEAD~1")
    ap.add_argument("--head", default="WORKTREE")
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--packages", type=int, default=50000)
    ap.add_argument("--workflows", type=int, default=2000)
    a = ap.parse_args()
    root = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True,
                          check=True, cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
    work = tempfile.mkdtemp(prefix="scancompare-")
    try:
        bins = {"base": os.path.join(work, "base"), "head": os.path.join(work, "head")}
        build(root, a.base, bins["base"])
        build(root, a.head, bins["head"])
        sh("go", "build", "-o", os.path.join(work, "gen"), "./bench/gen", cwd=root)
        sh("go", "build", "-o", os.path.join(work, "cigen"), "./bench/cigen", cwd=root)
        corpora = {
            f"{a.packages} packages": os.path.join(work, "lock"),
            f"{a.workflows} workflows": os.path.join(work, "ci"),
        }
        sh(os.path.join(work, "gen"), "-n", str(a.packages), "-o", corpora[f"{a.packages} packages"], stdout=subprocess.DEVNULL)
        sh(os.path.join(work, "cigen"), "-n", str(a.workflows), "-o", corpora[f"{a.workflows} workflows"], stdout=subprocess.DEVNULL)
        print(f"base {a.base}, head {a.head}, {a.runs} interleaved runs each, load {os.getloadavg()[0]:.2f}")
        for name, target in corpora.items():
            res = {"base": [], "head": []}
            for b in bins:  # warm-up
                timed(bins[b], target, os.path.join(work, b + ".json"))
            same = open(os.path.join(work, "base.json"), "rb").read() == open(os.path.join(work, "head.json"), "rb").read()
            for i in range(a.runs):
                order = ("base", "head") if i % 2 == 0 else ("head", "base")
                for b in order:
                    res[b].append(timed(bins[b], target, os.path.join(work, b + ".json")))
            med = {b: (statistics.median(w for w, _ in r), statistics.median(c for _, c in r)) for b, r in res.items()}
            print(f"{name}: wall base {med['base'][0]:.3f} s head {med['head'][0]:.3f} s ({med['head'][0]/med['base'][0]-1:+.1%}); "
                  f"cpu base {med['base'][1]:.3f} s head {med['head'][1]:.3f} s ({med['head'][1]/med['base'][1]-1:+.1%}); "
                  f"output {'identical' if same else 'differs'}")
        print(f"load at end {os.getloadavg()[0]:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)

if __name__ == "__main__":
    sys.exit(main())
