#!/bin/sh
# run.sh BUILD - what `make run` runs: the main job, locally, until Ctrl-C.
#
# exsim (the exchange simulator) replays the recorded Binance BTCUSDT and
# ETHUSDT traffic of ../shared/data over ws://127.0.0.1, tickringd connects
# to it exactly as it would to wss://stream.binance.com:9443, mirrors the
# rings to a local redis-server and the Kafka dev broker (both started here,
# on free ports), and `tickring top` shows the live view. The redis-cli and
# kcat commands that tap the mirrors are printed first. Ctrl-C stops
# everything cleanly.
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
redis_pid=
kafka_pid=
stop() {
	trap - INT TERM EXIT
	[ -n "$engine_pid" ] && kill "$engine_pid" 2>/dev/null || true
	[ -n "$exsim_pid" ] && kill "$exsim_pid" 2>/dev/null || true
	[ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null || true
	[ -n "$kafka_pid" ] && kill "$kafka_pid" 2>/dev/null || true
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

# The mirrors' local servers: redis-server without persistence, and
# librdkafka's mock cluster as a development Kafka broker.
redis_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no \
	--dir "$work" >"$work/redis.log" 2>&1 &
redis_pid=$!
"$build/kafka-dev-broker" >"$work/kafka.out" 2>"$work/kafka.log" &
kafka_pid=$!
brokers=
i=0
while [ -z "$brokers" ]; do
	brokers=$(head -n 1 "$work/kafka.out" 2>/dev/null || true)
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 "$kafka_pid" 2>/dev/null; then
		echo "run: kafka-dev-broker did not start:" >&2
		cat "$work/kafka.log" >&2
		exit 1
	fi
	[ -n "$brokers" ] || sleep 0.1
done
i=0
until redis-cli -p "$redis_port" ping >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 "$redis_pid" 2>/dev/null; then
		echo "run: redis-server did not start:" >&2
		cat "$work/redis.log" >&2
		exit 1
	fi
	sleep 0.1
done

"$build/tickringd" --instance "$inst" --feed "binance ws://127.0.0.1:$port" \
	--symbols BTCUSDT,ETHUSDT --streams trade,bookTicker --ring-slots 262144 \
	--journal-dir "$work/journal" --dead-letter "$work/dead-letter" \
	--kafka-brokers "$brokers" --redis-url "redis://127.0.0.1:$redis_port/0" \
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
cat <<EOF
run: tap the mirrors from another terminal:
  redis-cli -p $redis_port PSUBSCRIBE 'tickring:*'
  redis-cli -p $redis_port HGETALL tickring:latest:binance:BTCUSDT
  kcat -C -b $brokers -t tickring.trades -o end -f '%k %s\\n'
  kcat -C -b $brokers -t tickring.candles -o beginning -f '%k %s\\n'
(the Kafka broker is librdkafka's in-memory mock cluster, for development only)
EOF
sleep 3
"$build/tickring" --instance "$inst" top
