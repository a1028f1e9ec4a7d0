/*
 * Mounts and the root filesystem.
 *
 * Every *_IN_ROOT operation resolves its path with openat2(RESOLVE_IN_ROOT |
 * RESOLVE_NO_MAGICLINKS) beneath the SET_ROOT directory: the kernel follows a
 * symlink in the rootfs as if the rootfs were "/", so a rootfs holding
 * `evil -> /etc` cannot send a mount, a device node or a mkdir to the host.
 * Missing components are created one at a time under a parent that was itself
 * resolved that way, and mounts go onto /proc/self/fd/<fd> of the resolved
 * handle, so no path string is ever looked up again by a less careful
 * resolver between the check and the use.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "init.h"

/* As many symlink hops as the kernel allows in one lookup. */
#define MAX_HOPS 40

struct fdpath {
	char s[32];
};

static const char *fdpath(struct fdpath *p, int fd)
{
	snprintf(p->s, sizeof(p->s), "/proc/self/fd/%d", fd);
	return p->s;
}

static void close_keep_errno(int fd)
{
	int err = errno;

	if (fd >= 0)
		close(fd);
	errno = err;
}

/* An O_PATH handle on path beneath the root. */
static int resolve(const char *path, int dir_only)
{
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC | (dir_only ? O_DIRECTORY : 0),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};

	if (g.root_fd < 0) {
		op_msg("plan error: an *_IN_ROOT operation before SET_ROOT");
		errno = EBADF;
		return -1;
	}
	if (path[0] == '\0')
		path = ".";
	/* EAGAIN: a concurrent rename anywhere in the mount namespace made the
	 * kernel refuse to vouch for the lookup; it is safe to retry. */
	for (int tries = 0;; tries++) {
		long fd = syscall(SYS_openat2, g.root_fd, path, &how, sizeof(how));

		if (fd >= 0 || errno != EAGAIN || tries == 32)
			return (int)fd;
	}
}

/* mkdirat and friends must give exactly the modes the plan says, whatever
 * umask the container process has at this point. */
static int mkdirat_exact(int dirfd, const char *name, mode_t mode)
{
	mode_t old = umask(0);
	int rc = mkdirat(dirfd, name, mode);
	int err = errno;

	umask(old);
	errno = err;
	return rc;
}

static int create_file_exact(int dirfd, const char *name, mode_t mode)
{
	mode_t old = umask(0);
	int fd = openat(dirfd, name, O_RDONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	int err = errno;

	umask(old);
	if (fd < 0) {
		errno = err;
		return -1;
	}
	close(fd);
	return 0;
}

/* Split "a//b/./c" into components; returns their count (max 'max'). */
static int split_path(char *buf, char **comp, int max)
{
	int n = 0;

	for (char *save = NULL, *t = strtok_r(buf, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
		if (strcmp(t, ".") == 0)
			continue;
		if (n == max) {
			errno = ENAMETOOLONG;
			return -1;
		}
		comp[n++] = t;
	}
	return n;
}

/* comp[0..n-1] joined with "/" (n == 0 gives "."). */
static int join_path(char *out, size_t size, char **comp, int n)
{
	size_t o = 0;

	if (n == 0) {
		snprintf(out, size, ".");
		return 0;
	}
	for (int i = 0; i < n; i++) {
		int w = snprintf(out + o, size - o, "%s%s", i ? "/" : "", comp[i]);

		if (w < 0 || (size_t)w >= size - o) {
			errno = ENAMETOOLONG;
			return -1;
		}
		o += (size_t)w;
	}
	return 0;
}

/*
 * Create the missing components of path beneath the root: directories with
 * dir_mode, and the last one as a directory or (last_is_file) an empty file
 * with last_mode. A component that exists but does not resolve is a dangling
 * symlink: it is followed (beneath the root) by restarting with its target
 * spliced in, so that `evil -> /somewhere` creates <root>/somewhere, the way
 * the kernel would have resolved it had it existed.
 */
static int mkdir_all(const char *path, mode_t dir_mode, mode_t last_mode, int last_is_file)
{
	static char cur[PATH_MAX], work[PATH_MAX], prefix[PATH_MAX], next[PATH_MAX];
	char *comp[PATH_MAX / 2];
	int hops = 0;

	if (snprintf(cur, sizeof(cur), "%s", path) >= (int)sizeof(cur)) {
		errno = ENAMETOOLONG;
		return -1;
	}
restart:
	memcpy(work, cur, sizeof(work));

	int n = split_path(work, comp, (int)(sizeof(comp) / sizeof(comp[0])));

	if (n < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		int last = i == n - 1;

		if (join_path(prefix, sizeof(prefix), comp, i + 1) < 0)
			return -1;

		int fd = resolve(prefix, 0);

		if (fd >= 0) {
			close(fd);
			continue;
		}
		if (errno != ENOENT)
			return -1;

		/* Missing: make it in its parent, resolved beneath the root. */
		if (join_path(prefix, sizeof(prefix), comp, i) < 0)
			return -1;

		int parent = resolve(prefix, 1);

		if (parent < 0)
			return -1;

		int rc = last && last_is_file ? create_file_exact(parent, comp[i], last_mode)
					      : mkdirat_exact(parent, comp[i], last ? last_mode : dir_mode);

		if (rc == 0 || errno != EEXIST) {
			close_keep_errno(parent);
			if (rc < 0)
				return -1;
			continue;
		}

		/* It exists yet did not resolve: a race we lost (fine), or a
		 * dangling symlink (follow it). */
		char target[PATH_MAX];
		ssize_t tl = readlinkat(parent, comp[i], target, sizeof(target) - 1);

		close(parent);
		if (tl < 0) {
			if (errno == EINVAL)
				continue; /* not a symlink: someone created it */
			return -1;
		}
		target[tl] = '\0';
		if (++hops > MAX_HOPS) {
			errno = ELOOP;
			return -1;
		}

		/* next = [parent path "/"] target ["/" rest] */
		size_t o = 0;
		int w;

		if (target[0] != '/' && i > 0) {
			if (join_path(next, sizeof(next), comp, i) < 0)
				return -1;
			o = strlen(next);
			next[o++] = '/';
		}
		w = snprintf(next + o, sizeof(next) - o, "%s", target);
		if (w < 0 || (size_t)w >= sizeof(next) - o) {
			errno = ENAMETOOLONG;
			return -1;
		}
		o += (size_t)w;
		for (int j = i + 1; j < n; j++) {
			w = snprintf(next + o, sizeof(next) - o, "/%s", comp[j]);
			if (w < 0 || (size_t)w >= sizeof(next) - o) {
				errno = ENAMETOOLONG;
				return -1;
			}
			o += (size_t)w;
		}
		memcpy(cur, next, sizeof(cur));
		goto restart;
	}
	return 0;
}

/* Split path into its parent (created beneath the root if missing) and a
 * final name; returns an O_PATH handle on the parent. */
static int make_parent(const char *path, const char **name_out)
{
	static char dir[PATH_MAX];
	size_t len = strlen(path);

	while (len > 1 && path[len - 1] == '/')
		len--;
	if (len >= sizeof(dir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(dir, path, len);
	dir[len] = '\0';

	char *slash = strrchr(dir, '/');
	const char *name = slash ? slash + 1 : dir;

	if (name[0] == '\0' || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		op_msg("plan error: \"%.200s\" does not end in a file name", path);
		errno = EINVAL;
		return -1;
	}
	if (slash) {
		*slash = '\0';
		if (mkdir_all(dir, 0755, 0755, 0) < 0)
			return -1;
	}
	*name_out = name; /* in `dir`, trailing slashes gone */
	return resolve(slash ? dir : ".", 1);
}

static int parse_mkdir_kind(const struct op *op, uint32_t i, int *kind)
{
	if (strcmp(op->arg[i], "none") == 0)
		*kind = 0;
	else if (strcmp(op->arg[i], "dir") == 0)
		*kind = 1;
	else if (strcmp(op->arg[i], "file") == 0)
		*kind = 2;
	else {
		op_msg("plan error: mkdir must be dir, file or none, not \"%.32s\"", op->arg[i]);
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* mount(2) onto the handle of path resolved beneath the root. */
static int mount_on(const char *path, const char *source, const char *fstype, unsigned long flags,
		    const char *data)
{
	struct fdpath fp;
	int fd = resolve(path, 0);

	if (fd < 0)
		return -1;

	int rc = mount(source, fdpath(&fp, fd), fstype, flags, data);

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

	if (need_args(op, 8) < 0 || arg_u64(op, 3, &flags) < 0 || parse_mkdir_kind(op, 5, &kind) < 0 ||
	    arg_u64(op, 6, &remount) < 0 || arg_u64(op, 7, &propagation) < 0)
		return -1;

	const char *dest = op->arg[1];

	if (kind != 0 && mkdir_all(dest, 0755, kind == 2 ? 0644 : 0755, kind == 2) < 0)
		return -1;
	if (mount_on(dest, arg_or_null(op, 0), arg_or_null(op, 2), (unsigned long)flags, arg_or_null(op, 4)) < 0)
		return -1;
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

int op_mask_in_root(const struct op *op)
{
	struct fdpath fp;
	struct stat st;

	if (need_args(op, 1) < 0)
		return -1;

	int fd = resolve(op->arg[0], 0);

	if (fd < 0)
		return errno == ENOENT ? 0 : -1;

	int rc = fstat(fd, &st);

	if (rc == 0) {
		if (S_ISDIR(st.st_mode))
			rc = mount("tmpfs", fdpath(&fp, fd), "tmpfs", MS_RDONLY, NULL);
		else
			rc = mount("/dev/null", fdpath(&fp, fd), NULL, MS_BIND, NULL);
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

	int rc = mount(fdpath(&fp, fd), fdpath(&fp, fd), NULL, MS_BIND | MS_REC, NULL);

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
		rc = mount(NULL, fdpath(&fp, fd), NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | keep, NULL);
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
