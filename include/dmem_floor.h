/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dmem_floor.h - the guest floor: available memory a guest always keeps.
 *
 * The guest driver never inflates the balloon while that would leave
 * MemAvailable below the floor of the guest's size; the host policy never
 * asks for a balloon target below what the floor lets the guest reach. Both
 * compute it here, so that they cannot disagree.
 *
 * Included by the guest driver (kernel C) and by the host daemon (C11): plain
 * integer arithmetic only, no includes and no kernel or GLib types.
 */
#ifndef DMEM_FLOOR_H
#define DMEM_FLOOR_H

/**
 * dmem_floor_mib() - the floor of a guest, in MiB.
 * @guest_mib: the guest's memory as if nothing were ballooned, in MiB.
 *
 * A continuous, non-decreasing piecewise-linear function (after hv_balloon's
 * compute_balloon_floor()): small guests keep a large share, large guests a
 * small one.
 *
 *   guest MiB:   0   128   512   2048   8192   32768   65536
 *   floor MiB:   8    72   168    360    744    1512    2024
 *
 * Non-decreasing means that a caller who only knows an upper bound of the
 * guest's size gets an upper bound of its floor. No overflow for any
 * @guest_mib: the result is at most 1000 + @guest_mib / 64.
 *
 * Return: the floor in MiB.
 */
static inline unsigned long dmem_floor_mib(unsigned long guest_mib)
{
	if (guest_mib < 128)
		return 8 + guest_mib / 2;
	if (guest_mib < 512)
		return 40 + guest_mib / 4;
	if (guest_mib < 2048)
		return 104 + guest_mib / 8;
	if (guest_mib < 8192)
		return 232 + guest_mib / 16;
	if (guest_mib < 32768)
		return 488 + guest_mib / 32;
	return 1000 + guest_mib / 64;
}

#endif /* DMEM_FLOOR_H */
