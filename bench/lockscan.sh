#!/usr/bin/env bash
# Lockfile scan benchmark: builds buildwall, generates npm projects with
# 5,000 / 20,000 / 50,000 packages (package-lock.json of about 2.3 / 9.3 /
# 23.4 MB, package.json, .npmrc naming the made-up registry), times
#   buildwall scan --format json --fail-on none DIR
# end to end (process start included) and prints throughput and the time per
# package at each size, which must stay flat (linear growth).
#
# Usage: bench/lockscan.sh [-r RUNS] [-s "5000 20000 50000"] [--parser]
#   -r RUNS    timed runs per size after one warm-up run (default 7)
#   -s SIZES   package counts to generate
#   --parser   also run the Go parser benchmark (BenchmarkParse, with the
#              encoding/json baseline) in internal/lockfile/npm
# Uses hyperfine when installed, else bash's EPOCHREALTIME and `times`
# around each run. Reports the minimum and the median of wall-clock and of
# CPU (user+sys) time: on a shared machine the minimum is the run that waited
# least for a CPU, the closest to what the work itself costs.
set -euo pipefail

runs=7
sizes="5000 20000 50000"
parser=0
while [ $# -gt 0 ]; do
	case "$1" in
	-r) runs="$2"; shift 2 ;;
	-s) sizes="$2"; shift 2 ;;
	--parser) parser=1; shift ;;
	-h|--help) sed -n '2,17p' "$0"; exit 0 ;;
	*) echo "lockscan: unknown argument $1" >&2; exit 2 ;;
	esac
done

root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$root"

echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(go version | cut -d' ' -f3), load $(cut -d' ' -f1-3 /proc/loadavg)"
go build -o "$work/buildwall" ./cmd/buildwall
go build -o "$work/gen" ./bench/gen

# min of the numbers on stdin
minimum() { sort -g | head -n 1; }

# median of the numbers on stdin
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

# child_cpu FILE: user+sys seconds used by finished children, from the
# output of bash's `times` saved in FILE (it must run in the shell that
# started the children, not in a command substitution).
child_cpu() {
	awk 'NR == 2 {
		n = split($0, f, " "); t = 0
		for (i = 1; i <= n; i++) { split(f[i], p, "m"); sub("s", "", p[2]); t += p[1]*60 + p[2] }
		printf "%.6f\n", t }' "$1"
}

# time_scan DIR: prints "WALL CPU MINWALL MINCPU", the medians and the
# minimums over $runs scans of the wall-clock seconds and of the CPU seconds
# (user+sys) of the process. CPU time is the steadier figure on a shared
# machine.
time_scan() {
	local dir="$1" out="$work/out.json"
	"$work/buildwall" scan --format json --fail-on none --output "$out" "$dir" 2>/dev/null ||
		{ echo "lockscan: buildwall scan failed on $dir (exit $?)" >&2; exit 1; }
	grep -q '"schema": "buildwall.scan/v1"' "$out" || { echo "lockscan: unexpected scan output" >&2; exit 1; }
	if command -v hyperfine >/dev/null; then
		hyperfine --style none --warmup 1 --runs "$runs" --export-json "$work/h.json" \
			"'$work/buildwall' scan --format json --fail-on none --output '$out' '$dir'" >/dev/null 2>&1
		python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print(r["median"], r["user"]+r["system"], r["min"], r["user"]+r["system"])' "$work/h.json"
		return
	fi
	local i t0 t1 c0 c1
	: >"$work/wall"
	: >"$work/cpu"
	for ((i = 0; i < runs; i++)); do
		times >"$work/times0"
		t0=$EPOCHREALTIME
		"$work/buildwall" scan --format json --fail-on none --output "$out" "$dir" 2>/dev/null
		t1=$EPOCHREALTIME
		times >"$work/times1"
		c0=$(child_cpu "$work/times0")
		c1=$(child_cpu "$work/times1")
		echo "$t0 $t1" | awk '{printf "%.6f\n", $2 - $1}' >>"$work/wall"
		echo "$c0 $c1" | awk '{printf "%.6f\n", $2 - $1}' >>"$work/cpu"
	done
	echo "$(median <"$work/wall") $(median <"$work/cpu") $(minimum <"$work/wall") $(minimum <"$work/cpu")"
}

printf '%-9s %6s %8s %8s %10s %9s %8s %12s %11s %9s\n' packages MB wall-s cpu-s min-wall-s min-cpu-s MB/s packages/s us/package findings
for n in $sizes; do
	dir="$work/lock$n"
	"$work/gen" -n "$n" -o "$dir"
	bytes=$(stat -c %s "$dir/package-lock.json")
	read -r secs cpu minsecs mincpu < <(time_scan "$dir")
	findings=$(grep -c '"rule":' "$work/out.json" || true)
	awk -v n="$n" -v b="$bytes" -v s="$secs" -v c="$cpu" -v ms="$minsecs" -v mc="$mincpu" -v f="$findings" 'BEGIN {
		printf "%-9d %6.1f %8.3f %8.3f %10.3f %9.3f %8.1f %12.0f %11.2f %9d\n", n, b/1e6, s, c, ms, mc, b/1e6/ms, n/ms, ms*1e6/n, f }'
	echo "$n $secs $cpu $minsecs $mincpu" >>"$work/times"
done

# Linear growth. Process start and fixed costs make small sizes look
# cheaper per package, so compare marginal costs: the extra time per extra
# package between consecutive sizes. A linear scan has the same marginal cost
# at every size (ratio near 1); a quadratic one grows with the size (the
# ratio would be about 2.3 between these sizes).
awk '{n[NR]=$1; s[NR]=$2; c[NR]=$3} END {
	for (i = 2; i <= NR; i++) {
		mw[i] = (s[i]-s[i-1])/(n[i]-n[i-1])*1e6; mc[i] = (c[i]-c[i-1])/(n[i]-n[i-1])*1e6
		printf "marginal cost %d -> %d packages: %.2f us/package wall, %.2f us/package cpu\n", n[i-1], n[i], mw[i], mc[i]
	}
	if (NR >= 3) {
		r = mc[NR]/mc[2]
		printf "linear-growth check: marginal cpu cost ratio (last/first) %.2f -> %s\n", r, (r <= 1.5 ? "linear" : "SUPERLINEAR")
	}
}' "$work/times"

# The target from the issue: 50,000 packages in under 0.5 s, process start
# included, on 2 cores.
awk '$1 == 50000 {
	printf "target: 50000 packages under 0.5 s wall -> %s (min wall %.3f s, min cpu %.3f s; median wall %.3f s, cpu %.3f s)\n", ($4 < 0.5 ? "met" : "NOT met"), $4, $5, $2, $3
}' "$work/times"

if [ "$parser" = 1 ]; then
	echo
	echo "# Go parser benchmark (internal/lockfile/npm), encoding/json baseline alongside"
	go test -run '^$' -bench 'BenchmarkParse' -benchtime 10x -count 1 ./internal/lockfile/npm/
fi
