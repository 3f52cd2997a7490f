#!/usr/bin/env bash
# `make run`: start Ferry with embedded defaults from the build directory given.
set -eu
build=${1:-build}
exec "$build/ferry-agent"
