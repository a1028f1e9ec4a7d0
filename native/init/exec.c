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
#include <sys/stat.h>
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
	char path[32];
	int fd;

	(void)op;
	if (g.fifo_fd < 0) {
		op_msg("plan error: WAIT_START without OPEN_EXEC_FIFO");
		errno = EBADF;
		return -1;
	}
	/* Through the procfs held since start-up (init/procfs.c), not the
	 * container's /proc, which need not be a procfs at all. */
	snprintf(path, sizeof(path), "self/fd/%d", g.fifo_fd);
	hand_off();
	report_ready();
	do
		fd = openat(g.proc_fd, path, O_WRONLY | O_CLOEXEC);
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

		if (flags >= 0 && !(flags & FD_CLOEXEC) &&
		    fcntl((int)fd, F_SETFD, flags | FD_CLOEXEC) < 0)
			return -1;
	}
	return 0;
}

/* One candidate of a PATH search: 0 when it is the one, else -1 with errno. */
typedef int (*try_fn)(const char *path, void *ctx);

/* execvp's search, but over the PATH the plan gives (the container's, not
 * ours): a name with a '/' is tried as is; otherwise each entry in turn (an
 * empty one is the current directory), going on past the errors execvp goes
 * on past. Nothing found is ENOENT, or EACCES if a candidate was refused. */
static int search_path(const char *file, const char *path_env, try_fn try, void *ctx)
{
	if (file[0] == '\0') {
		errno = ENOENT;
		return -1;
	}
	if (strchr(file, '/'))
		return try(file, ctx);

	int denied = 0;
	char full[PATH_MAX];

	for (const char *p = path_env;;) {
		const char *colon = strchrnul(p, ':');
		size_t dlen = (size_t)(colon - p);
		int w = dlen ? snprintf(full, sizeof(full), "%.*s/%s", (int)dlen, p, file)
			     : snprintf(full, sizeof(full), "%s", file);

		if (w >= 0 && (size_t)w < sizeof(full)) {
			if (try(full, ctx) == 0)
				return 0;
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

struct exec_args {
	char *const *argv;
	char *const *envp;
};

/* Returns only when execve failed (no /bin/sh fallback for ENOEXEC). */
static int try_execve(const char *path, void *ctx)
{
	const struct exec_args *a = ctx;

	execve(path, a->argv, a->envp);
	return -1;
}

/* What execve would refuse at once: a missing file, a directory, a file with
 * no execute bit (the check runc's create makes with Go's LookPath). */
static int try_executable(const char *path, void *ctx)
{
	struct stat st;

	(void)ctx;
	if (stat(path, &st) < 0)
		return -1;
	if (S_ISDIR(st.st_mode) || !(st.st_mode & 0111)) {
		errno = EACCES;
		return -1;
	}
	return 0;
}

/* Operands: path_env, name. Lets the runtime fail `create` on a program
 * that EXEC could not run, before WAIT_START, as runc does. */
int op_find_exec(const struct op *op)
{
	if (need_args(op, 2) < 0)
		return -1;
	return search_path(op->arg[1], op->arg[0], try_executable, NULL);
}

/* Operands: preserve_fds, path_env, argc, args..., envc, env... */
int op_exec(const struct op *op)
{
	uint32_t preserve, argc, envc;

	if (arg_u32(op, 0, &preserve) < 0 || need_args(op, 3) < 0 || arg_count(op, 2, &argc) < 0 ||
	    arg_count(op, 3 + argc, &envc) < 0 || exact_args(op, 4 + argc + envc) < 0)
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

	char **argv = arg_vector(op, 3, argc);
	char **envp = arg_vector(op, 4 + argc, envc);

	if (!argv || !envp)
		return -1;

	if (reset_signals() < 0)
		return -1;
	/* A parent-death signal survives execve: the program must not get it. */
	hand_off();
	if (cloexec_from(3 + preserve) < 0) {
		op_msg("mark descriptors close-on-exec: %s", strerror(errno));
		return -1;
	}
	struct exec_args ea = { .argv = argv, .envp = envp };

	search_path(argv[0], op->arg[1], try_execve, &ea);
	return -1;
}
