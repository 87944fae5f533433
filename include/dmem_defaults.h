/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dmem_defaults.h - names, units and defaults shared by every dmem component.
 *
 * This header is included by the host daemon (C11 + GLib) and may be included
 * by the guest driver (kernel C), so it holds plain preprocessor constants only:
 * no includes, no types, no functions.
 *
 * Units are part of every name: _MIB (2^20 bytes), _KIB, _S, _MS, _PERCENT.
 * The names of config keys, metadata attributes and defaults below are the
 * contract of DESIGN.md; change them only together with DESIGN.md.
 */
#ifndef DMEM_DEFAULTS_H
#define DMEM_DEFAULTS_H

/* The one place the product version is defined. */
#define DMEM_VERSION			"0.1.0"

/* Per-VM settings live in the domain's libvirt metadata, this namespace and key. */
#define DMEM_METADATA_URI		"urn:dmem:1"
#define DMEM_METADATA_KEY		"dmem"
#define DMEM_METADATA_ELEMENT		"dmem"

/* Host daemon configuration file (GKeyFile). */
#define DMEM_CONFIG_PATH		"/etc/dmemd/dmemd.conf"

/* [daemon] */
#define DMEM_DEFAULT_URI		"qemu:///system"
#define DMEM_DEFAULT_INTERVAL_MS	1000
#define DMEM_INTERVAL_MS_MIN		100
#define DMEM_INTERVAL_MS_MAX		60000
/* Where dmemd publishes its state for dmemctl (replaced every cycle). */
#define DMEM_STATE_PATH			"/run/dmemd/state"
/* node_exporter's textfile collector reads only files with this suffix. */
#define DMEM_METRICS_SUFFIX		".prom"

/* [policy] and the per-VM metadata attributes that override it. */
#define DMEM_DEFAULT_BUFFER_PERCENT	20
#define DMEM_BUFFER_PERCENT_MAX		1000
#define DMEM_DEFAULT_WEIGHT		5000
#define DMEM_WEIGHT_MAX			10000
#define DMEM_DEFAULT_HOST_RESERVE_MIB	1024
/* 0: the pool is the host's MemAvailable minus host_reserve_mib. */
#define DMEM_DEFAULT_HOST_POOL_MIB	0
#define DMEM_DEFAULT_SHRINK_DELAY_S	60
#define DMEM_SHRINK_DELAY_S_MAX		86400
#define DMEM_DEFAULT_MAX_SHRINK_MIB_PER_S 256
#define DMEM_MAX_SHRINK_MIB_PER_S_MAX	1048576
/* 0: never take memory from an uncooperative VM. */
#define DMEM_DEFAULT_RECLAIM_UNRESPONSIVE_S 300
#define DMEM_RECLAIM_UNRESPONSIVE_S_MAX	86400
/* The hot cache estimate: on; a probe is watched this long for disk reads,
 * and a hot finding stands this long before the next probe. */
#define DMEM_DEFAULT_CACHE_AWARE	1
#define DMEM_DEFAULT_CACHE_PROBE_S	30
#define DMEM_CACHE_PROBE_S_MAX		3600
#define DMEM_DEFAULT_CACHE_REPROBE_S	600
#define DMEM_CACHE_REPROBE_S_MAX	86400

/* [hotadd] */
#define DMEM_DEFAULT_DIMM_SIZE_MIB	256
#define DMEM_DIMM_SIZE_MIB_MAX		1048576
/*
 * Linux onlines hot-added memory in whole memory blocks; on x86-64 guests
 * of the sizes we manage a block is 128 MiB, so a DIMM must be a multiple.
 */
#define DMEM_GUEST_MEMORY_BLOCK_MIB	128
/*
 * Hot-remove: a hot-added DIMM the VM no longer needs is unplugged, not
 * ballooned. Its delay, unplug_delay_s, is empty by default: shrink_delay_s,
 * and has the same range.
 */
#define DMEM_DEFAULT_UNPLUG		1

/*
 * Largest memory size any dmem interface accepts: 4 PiB. Bounding sizes
 * keeps all KiB arithmetic (sizes times weights) far from 64-bit overflow.
 */
#define DMEM_SIZE_MAX_MIB		(1ULL << 32)

/* Period at which the guest is asked for memory statistics. */
#define DMEM_STATS_PERIOD_S		1

#endif /* DMEM_DEFAULTS_H */
