/*
 * TAKE_FD: copy a descriptor out of the runtime's process.
 *
 * A runtime that keeps a berth-init started ahead of need (a spare, so that
 * a create does not wait for a spawn) cannot hand it the container's stdio
 * at spawn time: it does not know them yet, and Node.js cannot pass a
 * descriptor over a socket. pidfd_getfd(2) lets the spare copy them from
 * the runtime instead, exactly as SCM_RIGHTS would (the same open file, not
 * a reopen: pipes, sockets and terminals alike). The kernel allows it when
 * we could ptrace the runtime (same credentials, or CAP_SYS_PTRACE).
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "init.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

/* Operands: pid, source fd (in pid), target fd (ours). */
int op_take_fd(const struct op *op)
{
	int pid, src, dst;

	if (arg_int(op, 0, &pid) < 0 || arg_int(op, 1, &src) < 0 || arg_int(op, 2, &dst) < 0)
		return -1;
	if (pid <= 0 || src < 0 || dst < 0) {
		op_msg("plan error: TAKE_FD needs a pid and two descriptor numbers");
		errno = EINVAL;
		return -1;
	}
	if (dst == g.plan_fd) {
		op_msg("plan error: fd %d is berth-init's plan socket", dst);
		errno = EBUSY;
		return -1;
	}

	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);

	if (pidfd < 0)
		return -1;

	int fd = (int)syscall(SYS_pidfd_getfd, pidfd, src, 0);
	int err = errno;

	close(pidfd);
	if (fd < 0) {
		errno = err;
		return -1;
	}
	/* pidfd_getfd sets close-on-exec; the target must survive EXEC. */
	if (fd != dst && dup2(fd, dst) < 0) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	if (fd != dst)
		close(fd);
	else if (fcntl(dst, F_SETFD, 0) < 0)
		return -1;
	return 0;
}
