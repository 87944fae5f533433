#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Build and run the policy cycle benchmark (10, 100, 1000 synthetic VMs).
#   tests/bench/policy-bench.sh [SECONDS_PER_SIZE]
set -eu
TOP=$(cd "$(dirname "$0")/../.." && pwd)
"$TOP/tests/bench/build.sh" policy-bench
TMPDIR=${TMPDIR:-/dev/shm} exec "$TOP/tests/build/policy-bench" "$@"
