// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sysctl.h"

#define MAX_SAVED 48 /* a few globals plus two per WAN link */

static struct {
	char name[64];
	long old;
} saved[MAX_SAVED];
static int n_saved;

static void path_of(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "/proc/sys/%s", name);
}

int mpc_sysctl_get(const char *name, long *val)
{
	char path[128], buf[64];
	ssize_t n;
	int fd;

	path_of(name, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	*val = strtol(buf, NULL, 0);
	return 0;
}

static int write_val(const char *name, long val)
{
	char path[128], buf[32];
	int fd, n, err = 0;

	path_of(name, path, sizeof(path));
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = snprintf(buf, sizeof(buf), "%ld\n", val);
	if (write(fd, buf, n) != n)
		err = -errno;
	close(fd);
	return err;
}

int mpc_sysctl_set(const char *name, long val)
{
	long old;
	int err, i;

	err = mpc_sysctl_get(name, &old);
	if (err)
		return err;
	if (old == val)
		return 0;
	err = write_val(name, val);
	if (err)
		return err;
	for (i = 0; i < n_saved; i++)
		if (!strcmp(saved[i].name, name))
			return 0; /* keep the first, original value */
	if (n_saved < MAX_SAVED) {
		snprintf(saved[n_saved].name, sizeof(saved[n_saved].name), "%s", name);
		saved[n_saved].old = old;
		n_saved++;
	}
	return 0;
}

int mpc_sysctl_set_bits(const char *name, long bits)
{
	long old;
	int err;

	err = mpc_sysctl_get(name, &old);
	if (err)
		return err;
	if ((old & bits) == bits)
		return 0;
	err = mpc_sysctl_set(name, old | bits);
	return err ? err : 1;
}

void mpc_sysctl_restore_all(void)
{
	while (n_saved > 0) {
		n_saved--;
		if (write_val(saved[n_saved].name, saved[n_saved].old))
			pr_warn("could not restore %s=%ld\n", saved[n_saved].name,
				saved[n_saved].old);
	}
}
