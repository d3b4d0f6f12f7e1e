#!/usr/bin/env bash
# bench/relay.sh — side-by-side relay benchmarks on loopback:
#   (a) one large transfer: direct, through buildwall's tcpproxy, through nginx stream
#   (b) added connection-setup latency: N sequential connect + ClientHello echo + close
# Usage: bench/relay.sh [BYTES] [CONNECTIONS] [ROUNDS]   (defaults: 4 GiB, 2000, 3)
# Its "sandbox" rows run session.Run in process; bench/cli.sh measures the
# real command line (`buildwall run` to an allowed name) against nginx.
# Needs nginx with the stream module (installed with apt-get when missing and
# running as root). Everything listens on 127.0.0.1 only and is stopped on exit.
set -euo pipefail

BYTES=${1:-$((4 << 30))}
CONNS=${2:-2000}
ROUNDS=${3:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	if [[ -f $TMP/nginx.pid ]]; then kill "$(cat "$TMP/nginx.pid")" 2>/dev/null || true; fi
	wait 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT

NGINX=$(command -v nginx || true)
MOD=/usr/lib/nginx/modules/ngx_stream_module.so
if [[ -z $NGINX || ! -f $MOD ]]; then
	if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
		echo "installing nginx-light and libnginx-mod-stream with apt-get" >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light libnginx-mod-stream >/dev/null
		NGINX=$(command -v nginx)
	else
		echo "nginx with the stream module is missing; the nginx column is skipped" >&2
		NGINX=
	fi
fi

go build -o "$TMP/relaybench" "$ROOT/bench/relaybench"
B=$TMP/relaybench

# start NAME CMD... : run a server in the background (not in a subshell, so
# its pid is ours to stop) and wait until it has printed its address.
start() {
	local name=$1
	shift
	"$@" >"$TMP/$name.addr" 2>"$TMP/$name.err" &
	PIDS+=($!)
	for _ in $(seq 100); do [[ -s $TMP/$name.addr ]] && break; sleep 0.05; done
}
addr() { head -1 "$TMP/$1.addr"; }

start sink "$B" sink
start echo "$B" echo
SINK=$(addr sink)
ECHO=$(addr echo)
start bwsink "$B" proxy -target "$SINK" -events "$TMP/events-sink.jsonl"
start bwecho "$B" proxy -target "$ECHO" -events "$TMP/events-echo.jsonl"
BW_SINK=$(addr bwsink)
BW_ECHO=$(addr bwecho)

targets_t=("direct=$SINK" "buildwall=$BW_SINK")
targets_l=("direct=$ECHO" "buildwall=$BW_ECHO")
if [[ -n $NGINX ]]; then
	# Two free loopback ports for nginx, picked by the kernel.
	read -r P1 P2 < <(python3 -c 'import socket
s=[socket.socket() for _ in range(2)]
[x.bind(("127.0.0.1",0)) for x in s]
print(*[x.getsockname()[1] for x in s])')
	cat >"$TMP/nginx.conf" <<CONF
load_module $MOD;
worker_processes auto;
pid $TMP/nginx.pid;
error_log $TMP/nginx-error.log warn;
events { worker_connections 4096; multi_accept on; }
stream {
	proxy_buffer_size 256k;
	tcp_nodelay on;
	server { listen 127.0.0.1:$P1; proxy_pass $SINK; }
	server { listen 127.0.0.1:$P2; proxy_pass $ECHO; }
}
CONF
	"$NGINX" -p "$TMP" -c "$TMP/nginx.conf" -e "$TMP/nginx-error.log"
	for _ in $(seq 100); do [[ -s $TMP/nginx.pid ]] && break; sleep 0.05; done
	targets_t+=("nginx=127.0.0.1:$P1")
	targets_l+=("nginx=127.0.0.1:$P2")
fi

echo "# $(date -u +%FT%TZ) $(uname -r) $(nproc) cpus, $(go version | cut -d' ' -f3), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
[[ -n $NGINX ]] && echo "# $("$NGINX" -v 2>&1)"
# cpu PID... : user+sys CPU seconds consumed so far by the processes.
cpu() {
	local t=0 p
	for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
	awk -v t="$t" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / hz }'
}
relay_pids() {
	case $1 in
	buildwall) echo "${PIDS[2]}" ;;
	nginx) pgrep -P "$(cat "$TMP/nginx.pid")" | tr '\n' ' ' ;;
	esac
}
for r in $(seq "$ROUNDS"); do
	echo "## throughput, round $r (relay CPU: seconds of CPU the relay process(es) used)"
	for t in "${targets_t[@]}"; do
		pids=$(relay_pids "${t%%=*}")
		[[ -n $pids ]] && c0=$(cpu $pids)
		"$B" throughput -bytes "$BYTES" "$t" | tail -1 | tr '\n' ' '
		[[ -n $pids ]] && echo "relay CPU $(awk -v a="$(cpu $pids)" -v b="$c0" 'BEGIN { printf "%.2f", a - b }') s" || echo
	done
done
for r in $(seq "$ROUNDS"); do
	echo "## connection setup, $CONNS connections per target, interleaved, round $r"
	"$B" latency -n "$CONNS" "${targets_l[@]}"
done
# The real path: the client runs inside `buildwall run` (namespaces,
# nftables redirect, SO_ORIGINAL_DST, policy, attribution, events) and
# reaches the sink and echo servers on the runner's loopback via host-ports.
go build -o "$TMP/buildwall" "$ROOT/cmd/buildwall"
printf 'mode: block\nallow: []\nhost-ports: [%s, %s]\n' "${SINK##*:}" "${ECHO##*:}" >"$TMP/policy.yml"
bwrun() { "$TMP/buildwall" run --policy "$TMP/policy.yml" --events "$TMP/run-events.jsonl" -- "$@" 2>"$TMP/run.err"; }
if bwrun true; then
	for r in $(seq "$ROUNDS"); do
		echo "## throughput inside buildwall run, round $r"
		bwrun "$B" throughput -bytes "$BYTES" "sandbox=$SINK"
	done
	for r in $(seq "$ROUNDS"); do
		echo "## connection setup inside buildwall run via host-ports (absolute; compare with direct above), round $r"
		bwrun "$B" latency -n "$CONNS" "sandbox=$ECHO"
	done
else
	echo "# buildwall run is not available here, the sandbox rows are skipped:" >&2
	cat "$TMP/run.err" >&2
fi
# The real path to an allowed *name*: session.Run in process (what
# `buildwall run` runs), the client inside resolves echo.test through
# buildwall's DNS once and connects to its synthetic address; the host side's
# upstream DNS and dialer are injected and lead to the echo server on
# 127.0.0.1. Alternates blocks of sandbox connections with direct (and nginx)
# connections from the host, so the columns share the machine's load.
if [[ $(id -u) -eq 0 ]] || "$B" sandbox -n 10 -blocks 1 -target "$ECHO" "direct=$ECHO" >/dev/null 2>&1; then
	for r in $(seq "$ROUNDS"); do
		echo "## connection setup to an allowed name inside the sandbox (session.Run), $CONNS connections per target, alternating blocks, round $r"
		"$B" sandbox -n "$CONNS" -target "$ECHO" -events "$TMP/sandbox-events.jsonl" "${targets_l[@]}"
	done
fi
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
