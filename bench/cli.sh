#!/usr/bin/env bash
# bench/cli.sh — `buildwall run` through the real command line, against nginx
# stream and a direct connection, in the same run.
#
# A client process (relaybench samples / throughput) runs inside
# `buildwall run --policy P --dns-upstream D -- ...`, resolves echo.test
# through buildwall's DNS server and connects to the synthetic address it
# gets, opening with a TLS ClientHello naming echo.test (or, with --http, an
# HTTP/1.1 request head with Host: echo.test), exactly as a build does. The
# same client also runs outside, directly against the servers and through
# nginx stream, in an order shuffled per block/round, so every column sees
# the same machine load.
#
# Everything runs in a network namespace this script creates (unshare
# --net, root only): the echo and sink servers listen on 10.77.0.1 (a
# private address on the namespace's loopback, allowed by a CIDR rule,
# since a run refuses loopback and private answers otherwise), a test DNS
# server on 127.0.0.1 answers every *.test name with it. Nothing leaves the
# namespace.
#
# Usage: bench/cli.sh [-b BYTES] [-n CONNS] [-k BLOCKS] [-r ROUNDS] [-H] [LABEL=BUILDWALL...]
#   -H: HTTP openings (the verifying plain-HTTP relay) instead of TLS.
#   Without LABEL=BUILDWALL, the binary built from this tree is "buildwall".
#   e.g. bench/cli.sh before=/tmp/bw-5538ac7 after=/tmp/bw-main
# Needs nginx with the stream module (installed with apt-get when missing).
set -euo pipefail
BYTES=$((2 << 30)) CONNS=2000 BLOCKS=10 ROUNDS=3 HTTP=
while getopts "b:n:k:r:H" o; do
	case $o in
	b) BYTES=$OPTARG ;;
	n) CONNS=$OPTARG ;;
	k) BLOCKS=$OPTARG ;;
	r) ROUNDS=$OPTARG ;;
	H) HTTP=-http ;;
	*) sed -n 2,25p "$0" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[[ $(id -u) -eq 0 ]] || { echo "bench/cli.sh: needs root (unshare --net)" >&2; exit 2; }
if [[ -z ${RELAYBENCH_NETNS:-} ]]; then
	exec unshare --net env RELAYBENCH_NETNS=1 "$0" -b "$BYTES" -n "$CONNS" -k "$BLOCKS" -r "$ROUNDS" ${HTTP:+-H} "$@"
fi

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	if [[ -s $TMP/nginx.pid ]]; then kill "$(cat "$TMP/nginx.pid")" 2>/dev/null || true; fi
	wait 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT

ip link set lo up
ip addr add 10.77.0.1/32 dev lo
# Tens of thousands of connections a minute to one server address: without
# these (this namespace's own settings), TIME_WAIT fills the ephemeral
# port range, and connect(2) slows down to milliseconds searching for a
# free port, long before it fails.
sysctl -q -w net.ipv4.ip_local_port_range="1024 65535" net.ipv4.tcp_tw_reuse=1

NGINX=$(command -v nginx || true)
MOD=/usr/lib/nginx/modules/ngx_stream_module.so
if [[ -z $NGINX || ! -f $MOD ]]; then
	echo "installing nginx-light and libnginx-mod-stream with apt-get" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light libnginx-mod-stream >/dev/null
	NGINX=$(command -v nginx)
fi

go build -o "$TMP/relaybench" "$ROOT/bench/relaybench"
B=$TMP/relaybench
BUILDS=("$@")
if [[ ${#BUILDS[@]} -eq 0 ]]; then
	go build -o "$TMP/buildwall" "$ROOT/cmd/buildwall"
	BUILDS=("buildwall=$TMP/buildwall")
fi

start() { # NAME CMD...: a server in the background; waits for its address
	local name=$1
	shift
	"$@" >"$TMP/$name.addr" 2>"$TMP/$name.err" &
	PIDS+=($!)
	for _ in $(seq 100); do [[ -s $TMP/$name.addr ]] && break; sleep 0.05; done
	[[ -s $TMP/$name.addr ]] || { cat "$TMP/$name.err" >&2; exit 1; }
}
addr() { head -1 "$TMP/$1.addr"; }
start sink "$B" sink -listen 10.77.0.1:0
start echo "$B" echo -listen 10.77.0.1:0
start dns "$B" dns -listen 127.0.0.1:0 -answer 10.77.0.1
SINK=$(addr sink) ECHO=$(addr echo) DNS=$(addr dns)

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

# Block mode, one allowed name; the CIDR keeps its private answer.
printf 'mode: block\nallow: [echo.test, 10.77.0.0/24]\n' >"$TMP/policy.yml"

echo "# $(date -u +%FT%TZ) $(uname -r) $(nproc) cpus, $(go version | cut -d' ' -f3), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
echo "# $("$NGINX" -v 2>&1); builds: ${BUILDS[*]}"
"$B" cli $HTTP -bytes "$BYTES" -rounds "$ROUNDS" -n "$CONNS" -blocks "$BLOCKS" \
	-echo "$ECHO" -sink "$SINK" -nginx-echo "127.0.0.1:$P2" -nginx-sink "127.0.0.1:$P1" \
	-nginx-pid "$(cat "$TMP/nginx.pid")" -dns "$DNS" -policy "$TMP/policy.yml" "${BUILDS[@]}"
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
