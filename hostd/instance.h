/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * instance.h - one dmemd per host.
 *
 * Two daemons would fight over the same balloons. The first dmemd holds an
 * exclusive lock on "<state_file>.lock" for as long as it runs; a second one
 * fails to take it and says which process holds it. The kernel drops the lock
 * when its holder exits, however it exits, so there is nothing stale to clean
 * up (and the lock file is never removed: removing it would let a third
 * process lock a new file while the second still holds the old one).
 */
#ifndef DMEM_INSTANCE_H
#define DMEM_INSTANCE_H

#include <glib.h>

/*
 * Take the lock beside @state_file (creating its directory, 0755, and the
 * file, 0640) and write our pid into it. Returns the descriptor that holds
 * the lock: keep it open for the life of the process (it is close-on-exec).
 * Returns -1 with @error set when another process holds the lock:
 * "another dmemd (pid N) is running: /run/dmemd/state.lock is locked".
 *
 * The lock belongs to the open file, not to the process (flock(2)): a child
 * made by fork(), daemon() included, shares it, and the parent's exit does
 * not release it. So dmemd may lock before daemon(), to report a second
 * instance on the terminal, but must then call dmem_instance_set_pid() in
 * the child, or the file names the parent that exited.
 */
int dmem_instance_lock(const char *state_file, GError **error);

/* Replace the pid in the lock file held by @fd with getpid(). */
gboolean dmem_instance_set_pid(int fd, GError **error);

/* "<state_file>.lock", newly allocated. */
char *dmem_instance_lock_path(const char *state_file);

#endif /* DMEM_INSTANCE_H */
