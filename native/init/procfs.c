/*
 * Every write berth-init makes into procfs (oom_score_adj, the LSM labels in
 * attr/, sysctls, id maps, time offsets) goes through a descriptor proven to
 * be procfs, never through a path the container could have redirected.
 *
 * The procfs root is opened once, at start-up, in the mount namespace the
 * runtime started us in (before any SETNS or pivot_root can change what
 * "/proc" names), and checked to be the root of a real procfs. A write opens
 * its file beneath that root with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV): procfs's own "self" link is
 * followed, but no magic link and no mount over a procfs file (a bind of a
 * container file onto attr/exec, say) is; the opened file is checked again
 * with fstatfs before one write. The class of runc's CVE-2023-27561 and
 * CVE-2023-28642, where a rootfs that swaps /proc for a symlink made the
 * runtime's writes land in the container's own files.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "init.h"

/* The inode number of a procfs root (fs/proc/root.c, PROC_ROOT_INO). */
#define PROC_ROOT_INO 1

/* fd is on a procfs (and, with want_root, is the root of one). */
static int is_procfs(int fd, int want_root)
{
	struct statfs sfs;
	struct stat st;

	if (fstatfs(fd, &sfs) < 0 || fstat(fd, &st) < 0)
		return 0;
	if (sfs.f_type != PROC_SUPER_MAGIC)
		return 0;
	return !want_root || (S_ISDIR(st.st_mode) && st.st_ino == PROC_ROOT_INO);
}

int open_proc_root(void)
{
	int fd = open("/proc", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0) {
		op_msg("open /proc: %s", strerror(errno));
		return -1;
	}
	if (!is_procfs(fd, 1)) {
		close(fd);
		op_msg("/proc is not the root of a procfs");
		errno = EPERM;
		return -1;
	}
	g.proc_fd = fd;
	return 0;
}

int write_proc(const char *rel, const void *buf, size_t len)
{
	struct open_how how = {
		.flags = O_WRONLY | O_CLOEXEC | O_NOCTTY,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
	};
	long fd;

	if (g.proc_fd < 0) {
		op_msg("no procfs root is held");
		errno = EBADF;
		return -1;
	}
	if (rel[0] == '/') {
		op_msg("plan error: \"%.200s\" is not relative to the procfs root", rel);
		errno = EINVAL;
		return -1;
	}
	do
		fd = syscall(SYS_openat2, g.proc_fd, rel, &how, sizeof(how));
	while (fd < 0 && errno == EAGAIN);
	if (fd < 0) {
		if (errno == EXDEV || errno == ELOOP)
			op_msg("/proc/%.200s is not a procfs file (a mount or a link over it): %s",
			       rel, strerror(errno));
		return -1;
	}
	if (!is_procfs((int)fd, 0)) {
		close((int)fd);
		op_msg("/proc/%.200s is not on a procfs", rel);
		errno = EPERM;
		return -1;
	}

	int rc = write_fd_once((int)fd, buf, len);

	close_keep_errno((int)fd);
	return rc;
}

int op_write_proc(const struct op *op)
{
	if (need_args(op, 2) < 0)
		return -1;
	return write_proc(op->arg[0], op->arg[1], op->len[1]);
}

/* Resolved beneath the root, its last component not followed: the root of
 * a procfs, or EPERM. For after the mounts: nothing the config mounted later
 * (through a symlink that aliases /proc, say) hides the procfs there. */
int op_expect_procfs_in_root(const struct op *op)
{
	const char *name;

	if (need_args(op, 1) < 0)
		return -1;

	int parent = make_parent(op->arg[0], &name);

	if (parent < 0)
		return -1;

	int fd = openat(parent, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);

	close_keep_errno(parent);
	if (fd < 0)
		return -1;

	int ok = is_procfs(fd, 1);

	close(fd);
	if (!ok) {
		op_msg("%.200s is not the root of a procfs after the mounts", op->arg[0]);
		errno = EPERM;
		return -1;
	}
	return 0;
}
