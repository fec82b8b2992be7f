#!/bin/sh
# run.sh BUILD - what `make run` runs: the main job, locally, until Ctrl-C.
#
# Until the engine (tickringd) lands, the region is fed by tr-synth, a
# synthetic random-walk market, and the CLI shows it: `tickring stat` once,
# then `tickring tail` of the trades. Ctrl-C stops both cleanly.
set -eu
build=$1
inst=${TICKRING_INSTANCE:-run}

"$build/tr-synth" --instance "$inst" --rate 2000 --symbols BTCUSDT,ETHUSDT &
synth=$!
stop() {
	kill "$synth" 2>/dev/null || true
	wait "$synth" 2>/dev/null || true
}
trap 'stop; exit 0' INT TERM
trap stop EXIT

# wait for the region to come up
i=0
until "$build/tickring" --instance "$inst" stat >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -gt 50 ]; then
		echo "run: tr-synth did not come up" >&2
		exit 1
	fi
	sleep 0.1
done
"$build/tickring" --instance "$inst" stat
echo "run: tailing trades of instance '$inst' (Ctrl-C to stop)"
"$build/tickring" --instance "$inst" tail --kind trades
