/*
 * MOUNT_COPYUP_IN_ROOT: a tmpfs that starts with what the directory under it
 * held (runc's "tmpcopyup", which Podman and CRI-O use for /tmp-like mounts).
 *
 * The directory is opened before the mount; that descriptor keeps naming the
 * directory underneath, so after the tmpfs is mounted on top the tree is
 * copied from it into the new mount. Every step is an *at() call relative to
 * a descriptor, never following a symlink: a symlink in the rootfs is copied
 * as a symlink, and nothing outside the directory is read or written.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "init.h"

#define COPYUP_MAX_DEPTH 128

static int copy_tree(int sfd, int dfd, int depth);

static int copy_attrs(int dfd, const char *name, const struct stat *st)
{
	struct timespec times[2] = { st->st_atim, st->st_mtim };

	if (fchownat(dfd, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0)
		return -1;
	if (!S_ISLNK(st->st_mode) && fchmodat(dfd, name, st->st_mode & 07777, 0) < 0)
		return -1;
	return utimensat(dfd, name, times, AT_SYMLINK_NOFOLLOW);
}

static int copy_file(int sfd, int dfd, const char *name, const struct stat *st)
{
	int in = openat(sfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (in < 0)
		return -1;

	int out = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (out < 0) {
		close_keep_errno(in);
		return -1;
	}

	char buf[65536];
	int rc = 0;

	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = (int)n;
			break;
		}
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				rc = -1;
				break;
			}
			off += w;
		}
		if (rc < 0)
			break;
	}
	close_keep_errno(in);
	close_keep_errno(out);
	return rc < 0 ? -1 : copy_attrs(dfd, name, st);
}

static int copy_entry(int sfd, int dfd, const char *name, int depth)
{
	struct stat st;

	if (fstatat(sfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -1;
	if (S_ISDIR(st.st_mode)) {
		if (mkdirat(dfd, name, 0700) < 0)
			return -1;

		int s = openat(sfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		if (s < 0)
			return -1;

		int d = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		if (d < 0) {
			close_keep_errno(s);
			return -1;
		}

		int rc = copy_tree(s, d, depth + 1);

		close_keep_errno(s);
		close_keep_errno(d);
		return rc < 0 ? -1 : copy_attrs(dfd, name, &st);
	}
	if (S_ISREG(st.st_mode))
		return copy_file(sfd, dfd, name, &st);
	if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlinkat(sfd, name, target, sizeof(target) - 1);

		if (n < 0)
			return -1;
		target[n] = '\0';
		if (symlinkat(target, dfd, name) < 0)
			return -1;
		return copy_attrs(dfd, name, &st);
	}
	/* Devices, fifos and sockets: the node itself. */
	if (mknodat(dfd, name, st.st_mode & (S_IFMT | 07777), st.st_rdev) < 0)
		return -1;
	return copy_attrs(dfd, name, &st);
}

static int copy_tree(int sfd, int dfd, int depth)
{
	if (depth > COPYUP_MAX_DEPTH) {
		op_msg("tmpcopyup: deeper than %d directories", COPYUP_MAX_DEPTH);
		errno = ELOOP;
		return -1;
	}

	int list = dup(sfd);

	if (list < 0)
		return -1;

	DIR *dir = fdopendir(list);

	if (!dir) {
		close_keep_errno(list);
		return -1;
	}

	int rc = 0;
	struct dirent *e;

	errno = 0;
	while ((e = readdir(dir)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (copy_entry(sfd, dfd, e->d_name, depth) < 0) {
			if (!op_msg_get())
				op_msg("tmpcopyup: %s: %s", e->d_name, strerror(errno));
			rc = -1;
			break;
		}
		errno = 0;
	}
	if (rc == 0 && errno != 0)
		rc = -1;

	int err = errno;

	closedir(dir);
	errno = err;
	return rc;
}

/* Operands: source, dest, fstype, flags, data, propagation. */
int op_mount_copyup_in_root(const struct op *op)
{
	uint64_t flags, propagation;
	struct fdpath fp;

	if (need_args(op, 6) < 0 || arg_u64(op, 3, &flags) < 0 || arg_u64(op, 5, &propagation) < 0)
		return -1;

	const char *dest = op->arg[1];

	if (mkdir_all(dest, 0755, 0755, 0) < 0)
		return -1;

	int h = resolve(dest, 1);

	if (h < 0)
		return -1;

	/* A readable descriptor on the directory the O_PATH handle names. */
	int src = openat(h, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	const char *under = fdpath(&fp, h);

	if (src < 0 || !under) {
		close_keep_errno(h);
		close_keep_errno(src);
		return -1;
	}

	int rc = mount(arg_or_null(op, 0), under, arg_or_null(op, 2), (unsigned long)flags,
		       arg_or_null(op, 4));

	close_keep_errno(h);
	if (rc < 0) {
		close_keep_errno(src);
		return -1;
	}

	/* Resolved again: now the tmpfs on top. */
	h = resolve(dest, 1);

	int dst = -1;

	if (h >= 0) {
		dst = openat(h, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		close_keep_errno(h);
	}
	if (dst < 0) {
		close_keep_errno(src);
		return -1;
	}

	mode_t old = umask(0);

	rc = copy_tree(src, dst, 0);

	int err = errno;

	umask(old);
	close(src);
	close(dst);
	errno = err;
	if (rc < 0)
		return -1;
	if (propagation != 0) {
		h = resolve(dest, 1);
		if (h < 0)
			return -1;
		under = fdpath(&fp, h);
		rc = under ? mount(NULL, under, NULL, (unsigned long)propagation, NULL) : -1;
		close_keep_errno(h);
		if (rc < 0) {
			op_msg("set propagation: %s", strerror(errno));
			return -1;
		}
	}
	return 0;
}
