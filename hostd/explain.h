/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * explain.h - a VM's decision through the published state: dmemd records the
 * numbers (dmem_explain_record()), dmemctl tells them (dmem_explain_state()).
 * The text itself is dmem_policy_explain() (policy.h).
 */
#ifndef DMEM_EXPLAIN_H
#define DMEM_EXPLAIN_H

#include "policy.h"
#include "state.h"

/* The numbers of @d (made from @vm) that an explanation needs. */
void dmem_explain_record(const DmemVmInput *vm, const DmemVmDecision *d,
			 DmemStateDecision *x);

/*
 * The explanation of @vm, a VM of the published state @s: the same text
 * dmem_policy_explain() gives for its decision, plus what only the state
 * knows: its hot-remove (an unplug in flight, the last refusal, unplugs
 * this boot, or hot-remove off) and its last failed action. Newly
 * allocated.
 */
char *dmem_explain_state(const DmemState *s, const DmemStateVm *vm);

#endif /* DMEM_EXPLAIN_H */
