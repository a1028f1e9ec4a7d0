/*
 * Small I/O helpers shared by the operations.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "init.h"

int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int read_byte(int fd)
{
	unsigned char b;
	ssize_t n;

	do
		n = read(fd, &b, 1);
	while (n < 0 && errno == EINTR);
	if (n == 1)
		return b;
	if (n == 0)
		errno = EPIPE;
	return -1;
}

/* Kernel files such as uid_map or cgroup.procs must get their content in
 * exactly one write(2); a short write is an error, never retried. */
int write_file_once(int dirfd, const char *path, const void *buf, size_t len)
{
	int fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (write_fd_once(fd, buf, len) < 0) {
		close_keep_errno(fd);
		return -1;
	}
	if (close(fd) < 0 && errno != EINTR)
		return -1;
	return 0;
}

int write_fd_once(int fd, const void *buf, size_t len)
{
	ssize_t n;

	do
		n = write(fd, buf, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if ((size_t)n != len) {
		op_msg("short write (%zd of %zu bytes)", n, len);
		errno = EIO;
		return -1;
	}
	return 0;
}

int set_cloexec(int fd, int on)
{
	int flags = fcntl(fd, F_GETFD);

	if (flags < 0)
		return -1;
	flags = on ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC;
	return fcntl(fd, F_SETFD, flags);
}

/* Pass one descriptor with SCM_RIGHTS. A stream socket carries ancillary data
 * only along with at least one byte, so an empty body is sent as one NUL. */
int send_fd(int sock, int fd, const void *body, size_t len)
{
	char nul = '\0';
	struct iovec iov = { .iov_base = (void *)body, .iov_len = len };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl.buf,
		.msg_controllen = sizeof(ctl.buf),
	};

	if (len == 0) {
		iov.iov_base = &nul;
		iov.iov_len = 1;
	}
	memset(&ctl, 0, sizeof(ctl));

	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));

	ssize_t n;

	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	/* The descriptor went with the first byte; the rest of a long body is
	 * plain stream data. */
	if ((size_t)n < iov.iov_len)
		return write_all(sock, (const char *)iov.iov_base + n, iov.iov_len - (size_t)n);
	return 0;
}

/* Receive one descriptor (close-on-exec). Returns 0 and sets *fd_out (-1 when
 * the peer closed without sending one), or -1 with errno. */
int recv_fd(int sock, int *fd_out)
{
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl.buf,
		.msg_controllen = sizeof(ctl.buf),
	};
	ssize_t n;

	*fd_out = -1;
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(fd_out, CMSG_DATA(c), sizeof(int));
	}
	return 0;
}

/* Connect a stream socket to a path. A path longer than sun_path (the sockets
 * of containerd live deep) is reached through its directory's descriptor. */
int connect_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int dirfd = -1;

	if (strlen(path) < sizeof(sa.sun_path)) {
		memcpy(sa.sun_path, path, strlen(path) + 1);
	} else {
		char *dcopy = strdup(path), *bcopy = strdup(path);
		int n = -1;

		if (dcopy && bcopy) {
			dirfd = open(dirname(dcopy), O_PATH | O_DIRECTORY | O_CLOEXEC);
			if (dirfd >= 0)
				n = snprintf(sa.sun_path, sizeof(sa.sun_path),
					     "/proc/self/fd/%d/%s", dirfd, basename(bcopy));
		}
		free(dcopy);
		free(bcopy);
		if (dirfd < 0)
			return -1;
		if (n < 0 || (size_t)n >= sizeof(sa.sun_path)) {
			close(dirfd);
			errno = ENAMETOOLONG;
			return -1;
		}
	}

	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int rc = s < 0 ? -1 : connect(s, (struct sockaddr *)&sa, sizeof(sa));
	int err = errno;

	if (dirfd >= 0)
		close(dirfd);
	if (rc < 0) {
		if (s >= 0)
			close(s);
		errno = err;
		return -1;
	}
	return s;
}
