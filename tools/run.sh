#!/bin/sh
# run.sh BUILD - what `make run` runs: the main job, locally, until Ctrl-C.
#
# exsim (the exchange simulator) replays the recorded Binance BTCUSDT and
# ETHUSDT traffic of ../shared/data over ws://127.0.0.1, tickringd connects
# to it exactly as it would to wss://stream.binance.com:9443, and
# `tickring top` shows the live view. Ctrl-C stops all three cleanly.
# To run against live Binance instead, start tickringd with
#   --feed "binance wss://stream.binance.com:9443"
# in place of the local URL (see README, "Running against Binance").
set -eu
build=$1
root=$(cd "$(dirname "$0")/.." && pwd)
data=${TICKRING_DATA:-$root/../shared/data}
inst=${TICKRING_INSTANCE:-run}
speed=${TICKRING_SPEED:-1}
work=$(mktemp -d /tmp/tickring-run.XXXXXX)

for f in btcusdt_20240808.gz btcusdt_20240809.gz ethusdt_20240808.gz ethusdt_20240809.gz; do
	if [ ! -f "$data/binance-spot/$f" ]; then
		echo "run: $data/binance-spot/$f is missing (set TICKRING_DATA)" >&2
		exit 1
	fi
done

exsim_pid=
engine_pid=
stop() {
	trap - INT TERM EXIT
	[ -n "$engine_pid" ] && kill "$engine_pid" 2>/dev/null || true
	[ -n "$exsim_pid" ] && kill "$exsim_pid" 2>/dev/null || true
	wait 2>/dev/null || true
	echo "run: stopped; logs in $work"
}
trap 'stop; exit 0' INT TERM
trap stop EXIT

"$build/exsim" --port 0 --speed "$speed" --loop \
	--replay "$data/binance-spot/btcusdt_20240808.gz" "$data/binance-spot/btcusdt_20240809.gz" \
	"$data/binance-spot/ethusdt_20240808.gz" "$data/binance-spot/ethusdt_20240809.gz" \
	>"$work/exsim.out" 2>"$work/exsim.log" &
exsim_pid=$!
port=
i=0
while [ -z "$port" ]; do
	line=$(head -n 1 "$work/exsim.out" 2>/dev/null || true)
	case "$line" in *listening*) port=${line##*:} ;; esac
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 "$exsim_pid" 2>/dev/null; then
		echo "run: exsim did not start:" >&2
		cat "$work/exsim.log" >&2
		exit 1
	fi
	[ -n "$port" ] || sleep 0.1
done
echo "run: exsim replaying BTCUSDT and ETHUSDT at ${speed}x on ws://127.0.0.1:$port"

"$build/tickringd" --instance "$inst" --feed "binance ws://127.0.0.1:$port" \
	--symbols BTCUSDT,ETHUSDT --streams trade,bookTicker --ring-slots 262144 \
	--journal-dir "$work/journal" --dead-letter "$work/dead-letter" \
	2>"$work/tickringd.log" &
engine_pid=$!
echo "run: tickringd instance '$inst' (logs: $work); Ctrl-C to stop"
i=0
until "$build/tickring" --instance "$inst" stat >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 "$engine_pid" 2>/dev/null; then
		echo "run: tickringd did not come up:" >&2
		cat "$work/tickringd.log" >&2
		exit 1
	fi
	sleep 0.1
done
"$build/tickring" --instance "$inst" top
