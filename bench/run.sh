#!/bin/sh
# run.sh BUILD [options] - run every benchmark of one build, write bench/results/*.json.
#
# Each $BUILD/bench-<name> is run in turn with `--results-dir bench/results`
# plus any options given here (e.g. --quick), prints its own tables, and
# writes bench/results/<name>.json. A benchmark that fails (lost or corrupt
# records) fails the run; a missed performance target does not.
set -eu
if [ $# -lt 1 ]; then
	echo "usage: $0 BUILD [bench options, e.g. --quick]" >&2
	exit 2
fi
build=$1
shift
root=$(cd "$(dirname "$0")/.." && pwd)
case "$build" in
/*) ;;
*) build="$root/$build" ;;
esac
results="$root/bench/results"
mkdir -p "$results"

found=0
status=0
for bench in "$build"/bench-*; do
	[ -f "$bench" ] && [ -x "$bench" ] || continue
	found=1
	name=${bench##*/bench-}
	echo "== bench: $name"
	if "$bench" --results-dir "$results" "$@"; then
		:
	else
		echo "== bench: $name FAILED (exit $?)" >&2
		status=1
	fi
	if [ -f "$results/$name.json" ]; then
		echo "== results: $results/$name.json"
	fi
	echo
done
# The issue's mirrors.json: the Kafka and Redis mirror figures side by side.
if [ -f "$results/mirror_kafka.json" ] || [ -f "$results/mirror_redis.json" ]; then
	python3 - "$results" <<'PY'
import json, os, sys
d = sys.argv[1]
out = {"machine": None, "config": {}, "metrics": {}}
for name in ("mirror_kafka", "mirror_redis"):
    p = os.path.join(d, name + ".json")
    if not os.path.exists(p):
        continue
    j = json.load(open(p))
    out["machine"] = out["machine"] or j.get("machine")
    out["config"][name] = j.get("config", {})
    out["metrics"].update(j.get("metrics", {}))
json.dump(out, open(os.path.join(d, "mirrors.json"), "w"), indent=2)
print("== results: " + os.path.join(d, "mirrors.json"))
PY
fi
if [ "$found" -eq 0 ]; then
	echo "no bench-* programs in $build: run make first" >&2
	exit 1
fi
exit "$status"
