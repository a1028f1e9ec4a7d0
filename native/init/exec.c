/*
 * The end of the plan: SYNC points with the runtime, the wait for `start`,
 * and the final execve.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/close_range.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "init.h"

int op_sync(const struct op *op)
{
	struct op answer;

	if (need_args(op, 1) < 0)
		return -1;
	report_sync(op->arg[0]);
	if (read_record(g.plan_fd, &answer) < 0) {
		op_msg("read the answer to SYNC: %s", strerror(errno));
		return -1;
	}
	if (answer.code == OP_ACK)
		return 0;
	/* The runtime aborted for a reason it knows and reports itself. */
	if (answer.code == OP_ABORT)
		_exit(1);
	op_msg("plan error: expected ACK or ABORT after SYNC, got op %" PRIu32, answer.code);
	errno = EINVAL;
	return -1;
}

/* `create` ends here: the runtime sees `ready`, and `start` opens the fifo
 * for reading, which lets our open for writing complete. The fifo was opened
 * O_PATH on the host side; reopening it through /proc/self/fd needs no path
 * in the container's view. */
int op_wait_start(const struct op *op)
{
	char path[64];
	int fd;

	(void)op;
	if (g.fifo_fd < 0) {
		op_msg("plan error: WAIT_START without OPEN_EXEC_FIFO");
		errno = EBADF;
		return -1;
	}
	report_ready();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", g.fifo_fd);
	do
		fd = open(path, O_WRONLY | O_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return -1;
	if (write_all(fd, "0", 1) < 0) {
		int err = errno;

		close(fd);
		errno = err;
		return -1;
	}
	close(fd);
	close(g.fifo_fd);
	g.fifo_fd = -1;
	return 0;
}

/* The container's program gets default dispositions and an empty mask, not
 * our ignored SIGPIPE (an ignored signal survives execve). */
static int reset_signals(void)
{
	struct sigaction sa;
	sigset_t none;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		/* EINVAL: the two real-time signals glibc keeps for itself. */
		if (sigaction(sig, &sa, NULL) < 0 && errno != EINVAL) {
			op_msg("reset signal %d: %s", sig, strerror(errno));
			return -1;
		}
	}
	sigemptyset(&none);
	return sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Every descriptor from `lo` up is marked close-on-exec (not closed: the
 * plan socket must stay usable to report a failing execve). */
int cloexec_from(unsigned int lo)
{
	if (syscall(SYS_close_range, lo, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return 0;
	/* A seccomp profile that predates close_range answers EPERM or
	 * ENOSYS: mark them one by one, up to the descriptor limit. */
	if (errno != ENOSYS && errno != EPERM)
		return -1;

	struct rlimit rl;
	unsigned int hi = 1u << 20;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < hi)
		hi = (unsigned int)rl.rlim_cur;
	for (unsigned int fd = lo; fd < hi; fd++) {
		int flags = fcntl((int)fd, F_GETFD);

		if (flags >= 0 && !(flags & FD_CLOEXEC) && fcntl((int)fd, F_SETFD, flags | FD_CLOEXEC) < 0)
			return -1;
	}
	return 0;
}

/* execvp's search, but over the PATH the plan gives (the container's, not
 * ours), without its /bin/sh fallback for ENOEXEC. */
static int exec_search(const char *file, const char *path_env, char *const argv[], char *const envp[])
{
	if (file[0] == '\0') {
		errno = ENOENT;
		return -1;
	}
	if (strchr(file, '/')) {
		execve(file, argv, envp);
		return -1;
	}

	int denied = 0;
	char full[PATH_MAX];

	for (const char *p = path_env;;) {
		const char *colon = strchrnul(p, ':');
		size_t dlen = (size_t)(colon - p);
		/* An empty entry is the current directory, as for execvp. */
		int w = dlen ? snprintf(full, sizeof(full), "%.*s/%s", (int)dlen, p, file)
			     : snprintf(full, sizeof(full), "%s", file);

		if (w >= 0 && (size_t)w < sizeof(full)) {
			execve(full, argv, envp);
			switch (errno) {
			case EACCES:
				denied = 1;
				break;
			case ENOENT:
			case ENOTDIR:
			case ESTALE:
			case ENODEV:
			case ETIMEDOUT:
			case ELOOP:
			case ENAMETOOLONG:
				break;
			default:
				return -1;
			}
		}
		if (*colon == '\0')
			break;
		p = colon + 1;
	}
	errno = denied ? EACCES : ENOENT;
	return -1;
}

/* Operands: preserve_fds, path_env, argc, args..., envc, env... */
int op_exec(const struct op *op)
{
	uint32_t preserve, argc, envc;

	if (arg_u32(op, 0, &preserve) < 0 || need_args(op, 3) < 0 || arg_u32(op, 2, &argc) < 0 ||
	    need_args(op, 4 + argc) < 0 || arg_u32(op, 3 + argc, &envc) < 0 || need_args(op, 4 + argc + envc) < 0)
		return -1;
	if (argc == 0) {
		op_msg("plan error: EXEC without args");
		errno = EINVAL;
		return -1;
	}
	if (preserve > INT_MAX - 3) {
		op_msg("plan error: preserve_fds %" PRIu32 " is out of range", preserve);
		errno = EINVAL;
		return -1;
	}

	char **argv = calloc((size_t)argc + 1, sizeof(*argv));
	char **envp = calloc((size_t)envc + 1, sizeof(*envp));

	if (!argv || !envp)
		return -1;
	for (uint32_t i = 0; i < argc; i++)
		argv[i] = op->arg[3 + i];
	for (uint32_t i = 0; i < envc; i++)
		envp[i] = op->arg[4 + argc + i];

	if (reset_signals() < 0)
		return -1;
	if (cloexec_from(3 + preserve) < 0) {
		op_msg("mark descriptors close-on-exec: %s", strerror(errno));
		return -1;
	}
	exec_search(argv[0], op->arg[1], argv, envp);
	return -1;
}
