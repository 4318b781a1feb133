#!/usr/bin/env bash
# Thin wrapper for bench/compare: section "multipath-scaling" of docs/results.md. See bench/multipath.sh.
set -euo pipefail
exec "$(dirname "$0")/multipath.sh" scaling "$@"
