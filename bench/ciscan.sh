#!/usr/bin/env bash
# CI-configuration scan benchmark: builds buildwall and the corpus
# generator (bench/cigen), generates monorepos of 500 / 1,000 / 2,000 GitHub
# Actions workflows (about 6.6 kB each, so 3.3 / 6.6 / 13.2 MB, plus one
# local action per 50 workflows, one Dockerfile per 100 and a .gitlab-ci.yml),
# times
#   buildwall scan --format json --fail-on none DIR
# end to end (process start included) and prints the time per workflow at
# each size, which must stay flat (linear growth). actionlint (built from
# the version in go.mod, shellcheck and pyflakes off) is timed on the same
# workflows as the baseline.
#
# Usage: bench/ciscan.sh [-r RUNS] [-s "500 1000 2000"] [--no-actionlint] [--go]
#   -r RUNS          timed runs per size after one warm-up run (default 7)
#   -s SIZES         workflow counts to generate
#   --no-actionlint  skip the actionlint baseline
#   --go             also run the in-process Go benchmark (BenchmarkRunCI)
# Uses hyperfine when installed, else bash's EPOCHREALTIME and `times`
# around each run. Reports medians of wall-clock and CPU (user+sys) time.
set -euo pipefail

runs=7
sizes="500 1000 2000"
baseline=1
gobench=0
while [ $# -gt 0 ]; do
	case "$1" in
	-r) runs="$2"; shift 2 ;;
	-s) sizes="$2"; shift 2 ;;
	--no-actionlint) baseline=0; shift ;;
	--go) gobench=1; shift ;;
	-h|--help) sed -n '2,20p' "$0"; exit 0 ;;
	*) echo "ciscan: unknown argument $1" >&2; exit 2 ;;
	esac
done

root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$root"

echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(go version | cut -d' ' -f3), load $(cut -d' ' -f1-3 /proc/loadavg)"
go build -o "$work/buildwall" ./cmd/buildwall
go build -o "$work/cigen" ./bench/cigen
if [ "$baseline" = 1 ] && ! go build -o "$work/actionlint" github.com/rhysd/actionlint/cmd/actionlint 2>/dev/null; then
	echo "# actionlint could not be built; baseline skipped"
	baseline=0
fi

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

# child_cpu FILE: user+sys seconds of finished children from bash's `times`.
child_cpu() {
	awk 'NR == 2 {
		n = split($0, f, " "); t = 0
		for (i = 1; i <= n; i++) { split(f[i], p, "m"); sub("s", "", p[2]); t += p[1]*60 + p[2] }
		printf "%.6f\n", t }' "$1"
}

# time_cmd CMD...: prints "WALL CPU", medians over $runs runs (after one
# warm-up run) of the wall-clock and CPU seconds of CMD. Exit statuses are
# ignored (actionlint exits 1 when it reports problems).
time_cmd() {
	"$@" >/dev/null 2>&1 || true
	if command -v hyperfine >/dev/null; then
		local q="" a
		for a in "$@"; do q+=" '$a'"; done
		hyperfine --style none --warmup 1 --runs "$runs" -i --export-json "$work/h.json" "$q" >/dev/null 2>&1
		python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print(r["median"], r["user"]+r["system"])' "$work/h.json"
		return
	fi
	local i t0 t1 c0 c1
	: >"$work/wall"
	: >"$work/cpu"
	for ((i = 0; i < runs; i++)); do
		times >"$work/times0"
		t0=$EPOCHREALTIME
		"$@" >/dev/null 2>&1 || true
		t1=$EPOCHREALTIME
		times >"$work/times1"
		c0=$(child_cpu "$work/times0")
		c1=$(child_cpu "$work/times1")
		echo "$t0 $t1" | awk '{printf "%.6f\n", $2 - $1}' >>"$work/wall"
		echo "$c0 $c1" | awk '{printf "%.6f\n", $2 - $1}' >>"$work/cpu"
	done
	echo "$(median <"$work/wall") $(median <"$work/cpu")"
}

printf '%-9s %6s %6s %8s %8s %11s %9s' workflows files MB wall-s cpu-s us/workflow findings
[ "$baseline" = 1 ] && printf ' %14s %13s' actionlint-wall actionlint-cpu
echo
: >"$work/times"
for n in $sizes; do
	dir="$work/ci$n"
	"$work/cigen" -n "$n" -o "$dir" >/dev/null
	bytes=$(find "$dir" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
	files=$(find "$dir" -type f | wc -l)
	out="$work/out.json"
	"$work/buildwall" scan --format json --fail-on none --output "$out" "$dir" 2>/dev/null ||
		{ echo "ciscan: buildwall scan failed on $dir (exit $?)" >&2; exit 1; }
	grep -q '"schema": "buildwall.scan/v1"' "$out" || { echo "ciscan: unexpected scan output" >&2; exit 1; }
	findings=$(grep -c '"rule":' "$out" || true)
	read -r secs cpu < <(time_cmd "$work/buildwall" scan --format json --fail-on none --output "$out" "$dir")
	awk -v n="$n" -v fl="$files" -v b="$bytes" -v s="$secs" -v c="$cpu" -v f="$findings" 'BEGIN {
		printf "%-9d %6d %6.1f %8.3f %8.3f %11.1f %9d", n, fl, b/1e6, s, c, s*1e6/n, f }'
	al="- -"
	if [ "$baseline" = 1 ]; then
		read -r als alc < <(cd "$dir" && time_cmd "$work/actionlint" -no-color -shellcheck= -pyflakes= .github/workflows/*.yml)
		printf ' %14.3f %13.3f' "$als" "$alc"
		al="$als $alc"
	fi
	echo
	echo "$n $secs $cpu $al" >>"$work/times"
done

# Linear growth: the marginal CPU cost per extra workflow between
# consecutive sizes stays about the same for a linear scan (ratio near 1);
# it would double between these sizes for a quadratic one.
awk '{n[NR]=$1; s[NR]=$2; c[NR]=$3} END {
	for (i = 2; i <= NR; i++) {
		mw[i] = (s[i]-s[i-1])/(n[i]-n[i-1])*1e6; mc[i] = (c[i]-c[i-1])/(n[i]-n[i-1])*1e6
		printf "marginal cost %d -> %d workflows: %.1f us/workflow wall, %.1f us/workflow cpu\n", n[i-1], n[i], mw[i], mc[i]
	}
	if (NR >= 3) {
		r = mc[NR]/mc[2]
		printf "linear-growth check: marginal cpu cost ratio (last/first) %.2f -> %s\n", r, (r <= 1.5 ? "linear" : "SUPERLINEAR")
	}
}' "$work/times"

# The target from the issue: 2,000 workflows under 0.6 s, process start
# included, on 2 cores.
awk '$1 == 2000 {
	printf "target: 2000 workflows under 0.6 s wall -> %s (wall %.3f s, cpu %.3f s)\n", ($2 < 0.6 ? "met" : "NOT met"), $2, $3
}' "$work/times"

if [ "$gobench" = 1 ]; then
	echo
	echo "# Go benchmark (internal/scan, in process)"
	go test -run '^$' -bench 'BenchmarkRunCI' -benchtime 3x -count 1 ./internal/scan/
fi
