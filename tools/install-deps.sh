#!/bin/sh
# install-deps.sh - install the Debian packages tickring builds, tests and runs with.
#
# Idempotent: installs only what is missing, after `apt-get update`. The
# Makefile runs it when pkg-config cannot find a dependency, so a fresh Debian
# machine needs only `make test` or `make run`.
set -eu

PKGS="build-essential pkg-config python3 clang libclang-rt-14-dev
libcriterion-dev liburing-dev libwebsockets-dev libsimdjson-dev g++
librdkafka-dev libhiredis-dev zlib1g-dev libcjson-dev
redis-server redis-tools kcat"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
if [ -z "$missing" ]; then
	echo "install-deps: all packages present"
	exit 0
fi
echo "install-deps: installing:$missing"
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO=sudo
	else
		echo "install-deps: not root and no sudo: run as root:" >&2
		echo "  apt-get update && apt-get install -y$missing" >&2
		exit 1
	fi
else
	SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
echo "install-deps: done"
