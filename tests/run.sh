#!/bin/sh
# run.sh BUILD [criterion args] - run the unit/e2e test binary of one build.
# Tests find the project's programs through TR_BUILD and the repository root
# through TR_ROOT; each Criterion test has its own timeout.
set -eu
build=$1
shift
root=$(cd "$(dirname "$0")/.." && pwd)
export TR_BUILD="$root/$build" TR_ROOT="$root"
export TICKRING_DIR=/dev/shm
case "$build" in
build-thread) export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" ;;
build-address) export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" LSAN_OPTIONS="suppressions=$root/tests/lsan.supp:print_suppressions=0" ;;
esac
echo "== tests: $build"
exec "$root/$build/tests/unit" --jobs 2 --timeout 300 "$@"
