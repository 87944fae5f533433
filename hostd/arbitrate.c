// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * arbitrate.c - share a budget among claims by weight (DESIGN.md section 3,
 * "Arbitration"): minimums first, then demand, then buffers; the first level
 * the budget cannot cover is water-filled by weight above the level below.
 */
#include "policy-priv.h"

/*
 * Each round gives every open claim its weighted share of what remains,
 * capped: at least one claim fills, or all but rounding crumbs are handed
 * out. Claims of weight 0 share equally once every weighted claim is full.
 */
void dmem_waterfill(const dmem_kib_t *cap, const guint *weight, dmem_kib_t *x,
		      gsize n, dmem_kib_t budget)
{
	dmem_kib_t remaining = budget;

	for (gsize i = 0; i < n; i++)
		x[i] = 0;

	/* Each round fills at least one claim or hands out all but < n KiB. */
	for (gsize round = 0; round <= 2 * n + 2 && remaining; round++) {
		guint64 wsum = 0;
		gsize active = 0;
		gboolean weighted;
		dmem_kib_t given = 0;

		for (gsize i = 0; i < n; i++)
			if (x[i] < cap[i] && weight[i])
				wsum += weight[i];
		weighted = wsum > 0;
		for (gsize i = 0; i < n; i++)
			if (x[i] < cap[i] && (!weighted || weight[i]))
				active++;
		if (!active)
			break;
		if (!weighted)
			wsum = active;

		for (gsize i = 0; i < n; i++) {
			guint64 w = weighted ? weight[i] : 1;
			dmem_kib_t share;

			if (x[i] >= cap[i] || !w)
				continue;
			/* remaining <= 2^42, w <= 10000: no overflow */
			share = MIN(remaining * w / wsum, cap[i] - x[i]);
			x[i] += share;
			given += share;
		}
		if (given == 0) {
			/* Only rounding crumbs left: one KiB each, in order. */
			for (gsize i = 0; i < n && remaining; i++) {
				if (x[i] < cap[i] && (!weighted || weight[i])) {
					x[i]++;
					remaining--;
				}
			}
			continue;
		}
		remaining -= given;
	}
}

void dmem_arbitrate(DmemClaim *c, gsize n, dmem_kib_t budget,
		    gboolean *minimums_short)
{
	g_autofree dmem_kib_t *cap = g_new(dmem_kib_t, MAX(n, 1));
	g_autofree dmem_kib_t *x = g_new(dmem_kib_t, MAX(n, 1));
	g_autofree guint *w = g_new(guint, MAX(n, 1));
	dmem_kib_t sum[DMEM_LEVELS] = { 0 };

	for (gsize i = 0; i < n; i++) {
		for (int l = 0; l < DMEM_LEVELS; l++)
			sum[l] += c[i].level[l];
		w[i] = c[i].weight;
	}

	*minimums_short = sum[DMEM_LEVEL_LO] > budget;
	for (int l = DMEM_LEVEL_LO; l < DMEM_LEVELS; l++) {
		dmem_kib_t below = l == DMEM_LEVEL_LO ? 0 : sum[l - 1];

		if (sum[l] <= budget)
			continue;
		for (gsize i = 0; i < n; i++)
			cap[i] = c[i].level[l] - (l == DMEM_LEVEL_LO ? 0 : c[i].level[l - 1]);
		dmem_waterfill(cap, w, x, n, budget - below);
		for (gsize i = 0; i < n; i++)
			c[i].give = (l == DMEM_LEVEL_LO ? 0 : c[i].level[l - 1]) + x[i];
		return;
	}
	for (gsize i = 0; i < n; i++)
		c[i].give = c[i].ideal;
}

DmemAllocKind dmem_alloc_kind(const DmemClaim *c, gboolean minimums_short)
{
	if (c->give >= c->ideal)
		return DMEM_ALLOC_IDEAL;
	if (minimums_short || c->give < c->lo)
		return DMEM_ALLOC_MINIMUM;
	if (c->give >= c->demand)
		return DMEM_ALLOC_BUFFER_SHARED;
	if (c->give > c->lo)
		return DMEM_ALLOC_DEMAND_SHARED;
	return DMEM_ALLOC_MINIMUM;
}

void dmem_fair_shares(const DmemClaim *c, const dmem_kib_t *cap, gsize n,
		      dmem_kib_t budget, dmem_kib_t *share)
{
	g_autofree dmem_kib_t *room = g_new(dmem_kib_t, MAX(n, 1));
	g_autofree dmem_kib_t *x = g_new(dmem_kib_t, MAX(n, 1));
	g_autofree guint *w = g_new(guint, MAX(n, 1));
	dmem_kib_t lo = 0;

	for (gsize i = 0; i < n; i++) {
		lo = sat_add(lo, c[i].lo);
		w[i] = c[i].weight;
		room[i] = c[i].lo;
	}
	if (lo >= budget) {
		dmem_waterfill(room, w, share, n, budget);
		return;
	}
	for (gsize i = 0; i < n; i++)
		room[i] = sat_sub(cap[i], c[i].lo);
	dmem_waterfill(room, w, x, n, budget - lo);
	for (gsize i = 0; i < n; i++)
		share[i] = c[i].lo + x[i];
}
