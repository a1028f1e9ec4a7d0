/*
 * Resolution beneath the root of SET_ROOT, for every *_IN_ROOT operation.
 *
 * openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) makes the kernel follow a
 * symlink in the rootfs as if the rootfs were "/", so a rootfs holding
 * `evil -> /etc` cannot send a mount, a device node or a mkdir to the host.
 * Missing components are created one at a time under a parent that was itself
 * resolved that way; callers then act on the resolved handle (mounts go onto
 * /proc/self/fd/<fd>), so no path string is looked up again by a less careful
 * resolver between the check and the use.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "init.h"

/* As many symlink hops as the kernel allows in one lookup. */
#define MAX_HOPS 40

/* After pivot_root, /proc is the container's: if it is not a procfs (the
 * plan mounted none, or mounted something else there), /proc/self/fd/<fd>
 * would be looked up in a tree the rootfs provides, symlinks and all. Only a
 * real procfs makes that name the magic link to our own handle. */
const char *fdpath(struct fdpath *p, int fd)
{
	struct statfs sfs;

	if (statfs("/proc/self/fd", &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC) {
		op_msg("/proc is not a procfs here: refusing to reach a handle through "
		       "/proc/self/fd");
		errno = EPERM;
		return NULL;
	}
	snprintf(p->s, sizeof(p->s), "/proc/self/fd/%d", fd);
	return p->s;
}

void close_keep_errno(int fd)
{
	int err = errno;

	if (fd >= 0)
		close(fd);
	errno = err;
}

/* An O_PATH handle on path beneath the root. */
int resolve(const char *path, int dir_only)
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
int mkdir_all(const char *path, mode_t dir_mode, mode_t last_mode, int last_is_file)
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

		int rc = last && last_is_file
				 ? create_file_exact(parent, comp[i], last_mode)
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
int make_parent(const char *path, const char **name_out)
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

/* An O_PATH handle on the directory path names beneath the root, made if
 * missing; its last component may not be a symlink nor anything but a
 * directory (ENOTDIR). For proc and sysfs, which runc also mounts only on
 * an ordinary directory: mounted on a symlink's target, they could later be
 * swapped away by the container repointing the link. */
int resolve_real_dir(const char *path)
{
	const char *name;
	int parent = make_parent(path, &name);

	if (parent < 0)
		return -1;
	if (mkdirat_exact(parent, name, 0755) < 0 && errno != EEXIST) {
		close_keep_errno(parent);
		return -1;
	}

	int fd = openat(parent, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	close_keep_errno(parent);
	if (fd < 0 && (errno == ENOTDIR || errno == ELOOP)) {
		op_msg("%.200s must be an ordinary directory, not a symlink or a file", path);
		errno = ENOTDIR;
	}
	return fd;
}
