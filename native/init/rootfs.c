/*
 * Mounts and the root filesystem: the *_IN_ROOT operations (on handles
 * resolved beneath the root by inroot.c), plain MOUNT, and the switch of root
 * (PIVOT_ROOT, MOVE_ROOT).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "init.h"

static int parse_mkdir_kind(const struct op *op, uint32_t i, int *kind)
{
	if (strcmp(op->arg[i], "none") == 0)
		*kind = 0;
	else if (strcmp(op->arg[i], "dir") == 0)
		*kind = 1;
	else if (strcmp(op->arg[i], "file") == 0)
		*kind = 2;
	else if (strcmp(op->arg[i], "realdir") == 0)
		*kind = 3;
	else {
		op_msg("plan error: mkdir must be dir, realdir, file or none, not \"%.32s\"",
		       op->arg[i]);
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* mount(2) onto a resolved handle. */
static int mount_fd(const char *source, int fd, const char *fstype, unsigned long flags,
		    const char *data)
{
	struct fdpath fp;
	const char *target = fdpath(&fp, fd);

	return target ? mount(source, target, fstype, flags, data) : -1;
}

/* mount(2) onto the handle of path resolved beneath the root. */
static int mount_on(const char *path, const char *source, const char *fstype, unsigned long flags,
		    const char *data)
{
	int fd = resolve(path, 0);

	if (fd < 0)
		return -1;

	int rc = mount_fd(source, fd, fstype, flags, data);

	close_keep_errno(fd);
	return rc;
}

int op_mount(const struct op *op)
{
	uint64_t flags;

	if (need_args(op, 5) < 0 || arg_u64(op, 3, &flags) < 0)
		return -1;
	return mount(arg_or_null(op, 0), op->arg[1], arg_or_null(op, 2), (unsigned long)flags,
		     arg_or_null(op, 4));
}

int op_set_root(const struct op *op)
{
	if (need_args(op, 1) < 0)
		return -1;

	int fd = open(op->arg[0], O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (g.root_fd >= 0)
		close(g.root_fd);
	g.root_fd = fd;
	return 0;
}

int op_mount_in_root(const struct op *op)
{
	uint64_t flags, remount, propagation;
	int kind;

	if (need_args(op, 8) < 0 || arg_u64(op, 3, &flags) < 0 ||
	    parse_mkdir_kind(op, 5, &kind) < 0 || arg_u64(op, 6, &remount) < 0 ||
	    arg_u64(op, 7, &propagation) < 0)
		return -1;

	const char *dest = op->arg[1];

	if (kind == 3) {
		int fd = resolve_real_dir(dest);

		if (fd < 0)
			return -1;

		int rc = mount_fd(arg_or_null(op, 0), fd, arg_or_null(op, 2), (unsigned long)flags,
				  arg_or_null(op, 4));

		close_keep_errno(fd);
		if (rc < 0)
			return -1;
	} else {
		if (kind != 0 && mkdir_all(dest, 0755, kind == 2 ? 0644 : 0755, kind == 2) < 0)
			return -1;
		if (mount_on(dest, arg_or_null(op, 0), arg_or_null(op, 2), (unsigned long)flags,
			     arg_or_null(op, 4)) < 0)
			return -1;
	}
	/* Resolved again each time: the handle taken before the mount names
	 * the directory underneath it, not the new mount. */
	if (remount != 0 && mount_on(dest, NULL, NULL, (unsigned long)remount, NULL) < 0) {
		op_msg("remount: %s", strerror(errno));
		return -1;
	}
	if (propagation != 0 && mount_on(dest, NULL, NULL, (unsigned long)propagation, NULL) < 0) {
		op_msg("set propagation: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int op_mknod_in_root(const struct op *op)
{
	uint64_t mode, major, minor;
	int64_t uid, gid;
	const char *name;

	if (need_args(op, 6) < 0 || arg_u64(op, 1, &mode) < 0 || arg_u64(op, 2, &major) < 0 ||
	    arg_u64(op, 3, &minor) < 0 || arg_i64(op, 4, &uid) < 0 || arg_i64(op, 5, &gid) < 0)
		return -1;

	int parent = make_parent(op->arg[0], &name);

	if (parent < 0)
		return -1;

	mode_t old = umask(0);
	int rc = mknodat(parent, name, (mode_t)mode, makedev(major, minor));

	/* Replace what is there (a stale node, a file, a symlink: unlinkat
	 * removes the link itself, never what it points to). */
	if (rc < 0 && errno == EEXIST && unlinkat(parent, name, 0) == 0)
		rc = mknodat(parent, name, (mode_t)mode, makedev(major, minor));
	umask(old);
	if (rc == 0)
		rc = fchownat(parent, name, (uid_t)uid, (gid_t)gid, AT_SYMLINK_NOFOLLOW);
	close_keep_errno(parent);
	return rc;
}

int op_symlink_in_root(const struct op *op)
{
	const char *name;

	if (need_args(op, 2) < 0)
		return -1;

	int parent = make_parent(op->arg[1], &name);

	if (parent < 0)
		return -1;

	int rc = symlinkat(op->arg[0], parent, name);

	if (rc < 0 && errno == EEXIST)
		rc = 0;
	close_keep_errno(parent);
	return rc;
}

int op_mkdir_in_root(const struct op *op)
{
	uint64_t mode;

	if (need_args(op, 2) < 0 || arg_u64(op, 1, &mode) < 0)
		return -1;
	return mkdir_all(op->arg[0], (mode_t)mode, (mode_t)mode, 0);
}

/* A masked file gets a bind of the container's /dev/null, and only if that is
 * the null device itself (runc's CVE-2025-31133): a symlink, a file or a
 * mount put there would otherwise be bound, writable, over the masked path.
 * The handle that was checked is the one bound, so nothing can swap it. */
static int bind_null(int target)
{
	struct fdpath fp;
	struct stat st;
	int null = resolve("/dev/null", 0);

	if (null < 0) {
		op_msg("/dev/null in the container: %s", strerror(errno));
		return -1;
	}
	if (fstat(null, &st) < 0 || !S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3)) {
		op_msg("/dev/null in the container is not the null device");
		close(null);
		errno = EPERM;
		return -1;
	}

	const char *src = fdpath(&fp, null);
	int rc = src ? mount_fd(src, target, NULL, MS_BIND, NULL) : -1;

	close_keep_errno(null);
	return rc;
}

int op_mask_in_root(const struct op *op)
{
	struct stat st;

	if (need_args(op, 1) < 0)
		return -1;

	int fd = resolve(op->arg[0], 0);

	if (fd < 0)
		return errno == ENOENT ? 0 : -1;

	int rc = fstat(fd, &st);

	if (rc == 0) {
		if (S_ISDIR(st.st_mode))
			rc = mount_fd("tmpfs", fd, "tmpfs", MS_RDONLY, NULL);
		else
			rc = bind_null(fd);
	}
	close_keep_errno(fd);
	return rc;
}

int op_readonly_in_root(const struct op *op)
{
	struct fdpath fp;
	struct statfs sfs;

	if (need_args(op, 1) < 0)
		return -1;

	int fd = resolve(op->arg[0], 0);

	if (fd < 0)
		return errno == ENOENT ? 0 : -1;

	const char *self = fdpath(&fp, fd);
	int rc = self ? mount_fd(self, fd, NULL, MS_BIND | MS_REC, NULL) : -1;

	close_keep_errno(fd);
	if (rc < 0)
		return -1;

	/* The new bind mount, and the flags it must keep: a remount that
	 * drops nosuid/nodev/noexec is refused where they are locked. */
	fd = resolve(op->arg[0], 0);
	if (fd < 0)
		return -1;
	rc = fstatfs(fd, &sfs);
	if (rc == 0) {
		unsigned long keep = 0;

		if (sfs.f_flags & ST_NOSUID)
			keep |= MS_NOSUID;
		if (sfs.f_flags & ST_NODEV)
			keep |= MS_NODEV;
		if (sfs.f_flags & ST_NOEXEC)
			keep |= MS_NOEXEC;
		rc = mount_fd(NULL, fd, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | keep, NULL);
	}
	close_keep_errno(fd);
	return rc;
}

int op_bind_dev_in_root(const struct op *op)
{
	if (need_args(op, 2) < 0)
		return -1;
	if (mkdir_all(op->arg[1], 0755, 0644, 1) < 0)
		return -1;
	return mount_on(op->arg[1], op->arg[0], NULL, MS_BIND, NULL);
}

/* pivot_root(".", ".") stacks the old root on top of the new one at "/";
 * unmounting "." then drops it without ever needing a directory for it
 * inside the container. It is made a slave first so that the unmount cannot
 * propagate to the host's mounts. */
int op_pivot_root(const struct op *op)
{
	if (need_args(op, 1) < 0)
		return -1;
	if (chdir(op->arg[0]) < 0)
		return -1;
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return -1;
	if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
		return -1;
	if (umount2(".", MNT_DETACH) < 0)
		return -1;
	return chdir("/");
}

int op_move_root(const struct op *op)
{
	if (need_args(op, 1) < 0)
		return -1;
	if (chdir(op->arg[0]) < 0)
		return -1;
	if (mount(op->arg[0], "/", NULL, MS_MOVE, NULL) < 0)
		return -1;
	if (chroot(".") < 0)
		return -1;
	return chdir("/");
}

/* For a container without a mount namespace of its own (the host's, or one
 * joined by path): nothing to pivot, and a pivot would move the root of
 * every other process of that namespace; chroot, as runc does. */
int op_chroot(const struct op *op)
{
	if (need_args(op, 1) < 0)
		return -1;
	if (chdir(op->arg[0]) < 0 || chroot(".") < 0)
		return -1;
	return chdir("/");
}

/* The root of process pid (an exec into a container that chrooted), reached
 * through the procfs held since start-up, never the namespace's own /proc. */
int op_chroot_process_root(const struct op *op)
{
	char rel[32];
	int pid;

	if (arg_int(op, 0, &pid) < 0)
		return -1;
	snprintf(rel, sizeof(rel), "%d/root", pid);

	int fd = openat(g.proc_fd, rel, O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -1;

	int rc = fchdir(fd);

	close_keep_errno(fd);
	if (rc < 0 || chroot(".") < 0)
		return -1;
	return chdir("/");
}

#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif

struct berth_mount_attr {
	uint64_t attr_set;
	uint64_t attr_clr;
	uint64_t propagation;
	uint64_t userns_fd;
};

/* Operands: path, attr_set, attr_clr. mount_setattr(2) with AT_RECURSIVE on
 * the mount at path and every mount below it (runc's "rro", "rnosuid"...). */
int op_mount_setattr_in_root(const struct op *op)
{
	uint64_t set, clr;

	if (need_args(op, 3) < 0 || arg_u64(op, 1, &set) < 0 || arg_u64(op, 2, &clr) < 0)
		return -1;

	int fd = resolve(op->arg[0], 0);

	if (fd < 0)
		return -1;

	struct berth_mount_attr attr = { .attr_set = set, .attr_clr = clr };
	long rc = syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr,
			  sizeof(attr));

	close_keep_errno(fd);
	return rc < 0 ? -1 : 0;
}
