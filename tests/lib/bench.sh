# SPDX-License-Identifier: GPL-2.0-or-later
#
# Helpers the benchmarks in tests/bench/ share. Source it.

# median: the median of the numbers on stdin, one per line (the mean of the
# two middle ones for an even count).
median() {
	sort -n | awk '{ v[NR] = $1 }
		END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
