#!/usr/bin/env bash
# npm ci wall time with and without `buildwall run`, cold and warm cache.
#
# A local registry (bench/npmreg, 127.0.0.1 only) serves N generated packages;
# the project depends on all of them. Cold: empty npm cache, every packument
# and tarball fetched from the registry. Warm: populated cache, node_modules
# removed. Under buildwall the run is in block mode with the registry's port
# in host-ports, so every fetch goes through the sandbox's nftables redirect
# and buildwall's proxy; the run must block nothing (checked). The registry
# sends a public registry's caching headers, so a warm npm ci makes no
# request at all (checked: the buildwall report of every warm run must hold
# no connection).
#
# Usage: bench/npmci.sh [-n PACKAGES] [-r RUNS] [-b LABEL=BUILDWALL]...
#   -b compares several buildwall binaries in the same run (interleaved,
#   order rotated per run); default: "buildwall", built from this tree.
set -euo pipefail
n=300 runs=9
declare -A bin
labels=()
while getopts "n:r:b:" o; do
  case $o in
    n) n=$OPTARG ;;
    r) runs=$OPTARG ;;
    b) labels+=("${OPTARG%%=*}"); bin[${OPTARG%%=*}]=${OPTARG#*=} ;;
    *) echo "usage: $0 [-n PACKAGES] [-r RUNS] [-b LABEL=BUILDWALL]..." >&2; exit 2 ;;
  esac
done
root=$(cd "$(dirname "$0")/.." && pwd)
command -v npm >/dev/null || { echo "npm not installed" >&2; exit 2; }
tmp=$(mktemp -d)
regpid=
cleanup() { [ -n "$regpid" ] && kill "$regpid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

if [ ${#labels[@]} -eq 0 ]; then
  go build -o "$tmp/buildwall" "$root/cmd/buildwall"
  labels=(buildwall)
  bin[buildwall]=$tmp/buildwall
fi
go build -o "$tmp/npmreg" "$root/bench/npmreg"
"$tmp/npmreg" -n "$n" -project "$tmp/app" -addrfile "$tmp/url" 2>"$tmp/npmreg.log" &
regpid=$!
for _ in $(seq 100); do [ -s "$tmp/url" ] && break; sleep 0.1; done
url=$(cat "$tmp/url")
port=${url##*:}; port=${port%/}
printf 'run:\n  mode: block\n  allow: []\n  host-ports: [%s]\n' "$port" >"$tmp/app/buildwall.yml"

export npm_config_registry=$url npm_config_audit=false npm_config_fund=false \
  npm_config_update_notifier=false npm_config_loglevel=error npm_config_cache=$tmp/cache
cd "$tmp/app"
npm install --package-lock-only >/dev/null
installed=$(grep -c '"node_modules/' package-lock.json)

# one timed npm ci; prints "wall cpu" seconds (cpu = user+sys of the whole
# process tree: buildwall waits for the sandbox init, which reaps npm)
one() { # direct|LABEL cold|warm
  rm -rf node_modules
  [ "$2" = cold ] && rm -rf "$tmp/cache"
  local cmd=(npm ci)
  [ "$1" != direct ] && cmd=("${bin[$1]}" run --report "$tmp/report.json" -- npm ci)
  /usr/bin/time -f "%e %U %S" -o "$tmp/time" "${cmd[@]}" >/dev/null 2>"$tmp/err" ||
    { cat "$tmp/err" >&2; echo "$1 npm ci failed (buildwall blocked something?)" >&2; exit 1; }
  if [ "$1" != direct ] && [ "$2" = warm ] && ! grep -q '"connect": 0,' "$tmp/report.json"; then
    echo "warm npm ci under buildwall opened connections: the cache was not warm" >&2
    exit 1
  fi
  awk '{printf "%s %.2f\n", $1, $2 + $3}' "$tmp/time"
}

one direct cold >/dev/null   # warm up disks and page cache
for l in "${labels[@]}"; do one "$l" cold >/dev/null; done
cols=(direct "${labels[@]}")
declare -A wall cpu
for r in $(seq "$runs"); do
  # rotate the order so drift in machine load hits every column
  k=$(( (r - 1) % ${#cols[@]} ))
  order="${cols[*]:k} ${cols[*]:0:k}"
  for c in cold warm; do
    [ "$c" = warm ] && one direct cold >/dev/null   # populate the cache
    for m in $order; do
      read -r w u < <(one "$m" "$c")
      wall[$m-$c]+="$w "
      cpu[$m-$c]+="$u "
    done
  done
done

median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
minimum() { tr ' ' '\n' | grep . | sort -g | head -1; }
pct() { echo "($2 - $1) / $1 * 100" | bc -l; }
echo "npm ci, $installed packages from a local registry, $runs runs each (medians, seconds)"
echo "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), npm $(npm --version), node $(node --version)"
printf '%-18s %8s %8s %8s   %8s %8s %8s\n' cache wall:dir bw over cpu:dir bw over
for l in "${labels[@]}"; do
  for c in cold warm; do
    wd=$(echo "${wall[direct-$c]}" | median) wb=$(echo "${wall[$l-$c]}" | median)
    cd_=$(echo "${cpu[direct-$c]}" | median) cb=$(echo "${cpu[$l-$c]}" | median)
    printf '%-18s %8.2f %8.2f %7.1f%%   %8.2f %8.2f %7.1f%%\n' "$l $c" "$wd" "$wb" "$(pct "$wd" "$wb")" "$cd_" "$cb" "$(pct "$cd_" "$cb")"
  done
done
echo "minimums (the least disturbed runs):"
for l in "${labels[@]}"; do
  for c in cold warm; do
    wd=$(echo "${wall[direct-$c]}" | minimum) wb=$(echo "${wall[$l-$c]}" | minimum)
    cd_=$(echo "${cpu[direct-$c]}" | minimum) cb=$(echo "${cpu[$l-$c]}" | minimum)
    printf '%-18s %8.2f %8.2f %7.1f%%   %8.2f %8.2f %7.1f%%\n' "$l $c" "$wd" "$wb" "$(pct "$wd" "$wb")" "$cd_" "$cb" "$(pct "$cd_" "$cb")"
  done
done
for l in "${cols[@]}"; do
  for c in cold warm; do
    echo "  $l-$c wall: ${wall[$l-$c]} cpu: ${cpu[$l-$c]}"
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
