// SPDX-License-Identifier: GPL-2.0-or-later
/* test-instance.c - unit tests for instance.c */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "error.h"
#include "instance.h"

typedef struct {
	char *dir;
	char *state;	/* <dir>/run/state: the directory does not exist yet */
	char *lock;
} Fixture;

static void setup(Fixture *f, gconstpointer data)
{
	f->dir = g_dir_make_tmp("dmem-test-instance.XXXXXX", NULL);
	g_assert_nonnull(f->dir);
	f->state = g_build_filename(f->dir, "run", "state", NULL);
	f->lock = g_strconcat(f->state, ".lock", NULL);
}

static void teardown(Fixture *f, gconstpointer data)
{
	g_autofree char *run = g_path_get_dirname(f->state);

	g_unlink(f->lock);
	g_rmdir(run);
	g_rmdir(f->dir);
	g_free(f->dir);
	g_free(f->state);
	g_free(f->lock);
}

static char *read_lock(const Fixture *f)
{
	char *text = NULL;

	g_assert_true(g_file_get_contents(f->lock, &text, NULL, NULL));
	return text;
}

static void test_path(Fixture *f, gconstpointer data)
{
	g_autofree char *p = dmem_instance_lock_path("/run/dmemd/state");

	g_assert_cmpstr(p, ==, "/run/dmemd/state.lock");
}

/* The first lock wins, with its pid in the file; the file is 0640. */
static void test_lock(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *want = g_strdup_printf("%ld\n", (long)getpid());
	g_autofree char *text = NULL;
	GStatBuf st;
	int fd;

	fd = dmem_instance_lock(f->state, &error);
	g_assert_no_error(error);
	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(fcntl(fd, F_GETFD) & FD_CLOEXEC, !=, 0);
	text = read_lock(f);
	g_assert_cmpstr(text, ==, want);
	g_assert_cmpint(g_stat(f->lock, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 0777, ==, 0640);
	close(fd);
}

/*
 * A second lock in the same process conflicts (flock locks belong to the
 * open file), names the holder and leaves its pid alone; once the holder
 * closes its descriptor, the lock is free again.
 */
static void test_second_lock(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *want = NULL;
	g_autofree char *text = NULL;
	int fd, fd2;

	fd = dmem_instance_lock(f->state, &error);
	g_assert_cmpint(fd, >=, 0);
	fd2 = dmem_instance_lock(f->state, &error);
	g_assert_cmpint(fd2, ==, -1);
	g_assert_error(error, DMEM_ERROR, DMEM_ERROR_FAILED);
	want = g_strdup_printf("another dmemd (pid %ld) is running: %s is locked",
			       (long)getpid(), f->lock);
	g_assert_cmpstr(error->message, ==, want);
	g_clear_error(&error);
	text = read_lock(f);
	g_assert_cmpuint(strlen(text), >, 1);

	close(fd);
	fd2 = dmem_instance_lock(f->state, &error);
	g_assert_no_error(error);
	g_assert_cmpint(fd2, >=, 0);
	close(fd2);
}

/* A holder that has not written its pid yet: no made-up pid. */
static void test_no_pid_yet(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *want = NULL;
	int fd;

	fd = dmem_instance_lock(f->state, &error);
	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(ftruncate(fd, 0), ==, 0);
	g_assert_cmpint(dmem_instance_lock(f->state, &error), ==, -1);
	want = g_strdup_printf("another dmemd is running: %s is locked", f->lock);
	g_assert_cmpstr(error->message, ==, want);
	close(fd);
}

/*
 * After fork() (daemon() is one) the child shares the parent's lock: it
 * survives the parent's exit, and the child must write its own pid.
 */
static void test_fork(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	int ready[2], hold[2], status, fd;
	pid_t child;
	char c;

	fd = dmem_instance_lock(f->state, &error);
	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(pipe(ready), ==, 0);
	g_assert_cmpint(pipe(hold), ==, 0);
	child = fork();
	g_assert_cmpint(child, >=, 0);
	if (child == 0) {
		gboolean ok = dmem_instance_set_pid(fd, NULL);

		close(ready[0]);
		close(hold[1]);
		if (write(ready[1], ok ? "y" : "n", 1) != 1)
			_exit(2);
		/* Hold the lock until killed, or until the test is gone. */
		while (read(hold[0], &c, 1) > 0)
			;
		_exit(0);
	}
	close(ready[1]);
	close(hold[0]);
	g_assert_cmpint(read(ready[0], &c, 1), ==, 1);
	g_assert_cmpint(c, ==, 'y');
	close(ready[0]);

	/* The parent lets go; the child still holds the lock. */
	close(fd);
	g_assert_cmpint(dmem_instance_lock(f->state, &error), ==, -1);
	{
		g_autofree char *want = g_strdup_printf("another dmemd (pid %ld) is running",
							 (long)child);

		g_test_message("%s", error->message);
		g_assert_true(g_str_has_prefix(error->message, want));
	}
	g_clear_error(&error);

	/* Its exit, however abrupt, frees the lock. */
	kill(child, SIGKILL);
	g_assert_cmpint(waitpid(child, &status, 0), ==, child);
	close(hold[1]);
	fd = dmem_instance_lock(f->state, &error);
	g_assert_no_error(error);
	g_assert_cmpint(fd, >=, 0);
	close(fd);
}

static void test_cannot_create(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *file = g_build_filename(f->dir, "file", NULL);
	g_autofree char *state = g_build_filename(file, "state", NULL);

	/* A directory that is a file: the message names what failed. */
	g_assert_true(g_file_set_contents(file, "", 0, NULL));
	g_assert_cmpint(dmem_instance_lock(state, &error), ==, -1);
	g_test_message("%s", error->message);
	g_assert_error(error, DMEM_ERROR, DMEM_ERROR_FAILED);
	g_assert_nonnull(strstr(error->message, "state.lock"));
	g_unlink(file);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, setup, fn, teardown)
	ADD("/instance/path", test_path);
	ADD("/instance/lock", test_lock);
	ADD("/instance/second-lock", test_second_lock);
	ADD("/instance/no-pid-yet", test_no_pid_yet);
	ADD("/instance/fork", test_fork);
	ADD("/instance/cannot-create", test_cannot_create);
	return g_test_run();
}
