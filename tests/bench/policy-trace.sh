#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Build and run the policy trace benchmark: dmem's policy (hostd's own code)
# against oVirt MOM's, Proxmox's and static sizing on the same demand traces.
#   tests/bench/policy-trace.sh
# Exit status 1 when dmem misses one of its targets on some trace.
set -eu
TOP=$(cd "$(dirname "$0")/../.." && pwd)
"$TOP/tests/bench/build.sh" policy-trace -lm
exec "$TOP/tests/build/policy-trace" "$@"
