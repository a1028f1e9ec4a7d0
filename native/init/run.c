/*
 * Programs the init runs and waits for: OCI hooks (HOOK) and the id-map
 * helpers newuidmap/newgidmap (RUN_CHILD_HELPER).
 *
 * The program's exec failure comes back through a close-on-exec pipe (an
 * errno, or EOF when execve succeeded), so "no such file" is reported as
 * such and not as "exit status 127". Its stdout and stderr are captured (the
 * first few KiB) and quoted in a failure message, the way runc quotes a
 * failing hook's output. A timeout is enforced with a pidfd in the same poll
 * loop that feeds stdin, so a hook that never reads its state cannot make us
 * miss the deadline.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "init.h"

#define OUTPUT_KEEP 2048

extern char **environ;

struct program {
	const char *path; /* execve path; NULL: search PATH for argv[0] */
	char *const *argv;
	char *const *envp; /* NULL: our environment */
	const char *input; /* stdin content */
	size_t input_len;
	uint64_t timeout_s; /* 0: none */
};

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* In the forked child: stdin from a pipe, stdout+stderr to the capture pipe,
 * default signals, then exec. Never returns. */
static void __attribute__((noreturn))
exec_program(const struct program *p, int in, int out, int errfd)
{
	sigset_t none;
	int err;

	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Exactly three descriptors: the state, the capture pipe twice. Ours
	 * are close-on-exec already; anything else inherited (the container's
	 * preserved fds, a runtime's stray one) is not the hook's business. */
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0 || cloexec_from(3) < 0) {
		err = errno;
	} else if (p->path) {
		execve(p->path, p->argv, p->envp ? p->envp : environ);
		err = errno;
	} else {
		execvp(p->argv[0], p->argv);
		err = errno;
	}
	(void)!write(errfd, &err, sizeof(err));
	_exit(127);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Append to the capture buffer what fits, discard the rest. */
static int drain(int fd, char *buf, size_t *len)
{
	char tmp[4096];

	for (;;) {
		ssize_t n = read(fd, tmp, sizeof(tmp));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n == 0 ? 0 : (errno == EAGAIN ? 1 : 0);
		size_t take = (size_t)n < OUTPUT_KEEP - *len ? (size_t)n : OUTPUT_KEEP - *len;

		memcpy(buf + *len, tmp, take);
		*len += take;
	}
}

static void describe_failure(int status, const char *output, size_t outlen)
{
	char what[64];

	if (WIFEXITED(status))
		snprintf(what, sizeof(what), "exit status %d", WEXITSTATUS(status));
	else
		snprintf(what, sizeof(what), "killed by signal %d", WTERMSIG(status));
	while (outlen > 0 && (output[outlen - 1] == '\n' || output[outlen - 1] == ' '))
		outlen--;
	if (outlen > 0)
		op_msg("%s: %.*s", what, (int)outlen, output);
	else
		op_msg("%s", what);
}

/* Run p to completion. 0 when it exits 0; otherwise -1 with errno (the exec
 * failure's, ETIMEDOUT, or 0 for a non-zero status) and op_msg set. */
static int run_program(const struct program *p)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, ep[2] = { -1, -1 };
	int pidfd = -1, rc = -1, status = 0;
	char output[OUTPUT_KEEP];
	size_t outlen = 0;
	pid_t pid;

	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(ep, O_CLOEXEC) < 0)
		goto out;
	pid = fork();
	if (pid < 0)
		goto out;
	if (pid == 0)
		exec_program(p, in[0], out[1], ep[1]);
	close_fd(&in[0]);
	close_fd(&out[1]);
	close_fd(&ep[1]);

	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0 || fcntl(in[1], F_SETFL, O_NONBLOCK) < 0 ||
	    fcntl(out[0], F_SETFL, O_NONBLOCK) < 0) {
		int err = errno;

		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		errno = err;
		goto out;
	}

	int64_t deadline = p->timeout_s ? now_ms() + (int64_t)p->timeout_s * 1000 : 0;
	size_t sent = 0;

	if (p->input_len == 0)
		close_fd(&in[1]);
	for (;;) {
		struct pollfd pf[3] = {
			{ .fd = pidfd, .events = POLLIN },
			{ .fd = in[1], .events = POLLOUT },
			{ .fd = out[0], .events = POLLIN },
		};
		int wait_ms = -1;

		if (deadline) {
			int64_t left = deadline - now_ms();

			wait_ms = left > 0 ? (int)(left > 1 << 30 ? 1 << 30 : left) : 0;
		}

		int n = poll(pf, 3, wait_ms);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			goto out;
		}
		if (n == 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			op_msg("timed out after %" PRIu64 "s", p->timeout_s);
			errno = ETIMEDOUT;
			goto out;
		}
		if (pf[1].revents) {
			ssize_t w = write(in[1], p->input + sent, p->input_len - sent);

			if (w > 0)
				sent += (size_t)w;
			/* EPIPE: the program does not want its stdin; fine. */
			if (sent == p->input_len || (w < 0 && errno != EAGAIN && errno != EINTR))
				close_fd(&in[1]);
		}
		if (pf[2].revents && !drain(out[0], output, &outlen))
			close_fd(&out[0]);
		if (pf[0].revents)
			break;
	}

	/* Exited. What it wrote is in the pipe unless a grandchild still holds
	 * it open; take what is there without waiting for that one. */
	if (out[0] >= 0)
		(void)drain(out[0], output, &outlen);
	if (waitpid(pid, &status, 0) < 0)
		goto out;

	int exec_err;
	ssize_t got;

	do
		got = read(ep[0], &exec_err, sizeof(exec_err));
	while (got < 0 && errno == EINTR);
	if (got == (ssize_t)sizeof(exec_err)) {
		op_msg("exec %s: %s", p->path ? p->path : p->argv[0], strerror(exec_err));
		errno = exec_err;
		goto out;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		rc = 0;
		goto out;
	}
	describe_failure(status, output, outlen);
	errno = 0;
out : {
	int err = errno;

	close_fd(&in[0]);
	close_fd(&in[1]);
	close_fd(&out[0]);
	close_fd(&out[1]);
	close_fd(&ep[0]);
	close_fd(&ep[1]);
	close_fd(&pidfd);
	errno = err;
}
	return rc;
}

int run_helper(char *const argv[])
{
	struct program p = {
		.path = NULL, .argv = argv, .envp = NULL, .input = "", .input_len = 0
	};

	return run_program(&p);
}

/* Operands: path, timeout_s, stdin, argc, args..., envc, env... */
int op_hook(const struct op *op)
{
	uint64_t timeout;
	uint32_t argc, envc;

	if (need_args(op, 5) < 0 || arg_u64(op, 1, &timeout) < 0 || arg_count(op, 3, &argc) < 0 ||
	    arg_count(op, 4 + argc, &envc) < 0 || exact_args(op, 5 + argc + envc) < 0)
		return -1;

	char **argv = arg_vector(op, 4, argc);
	char **envp = arg_vector(op, 5 + argc, envc);

	if (!argv || !envp)
		return -1;

	struct program p = {
		.path = op->arg[0],
		.argv = argv,
		.envp = envp,
		.input = op->arg[2],
		.input_len = op->len[2],
		.timeout_s = timeout,
	};
	int rc = run_program(&p);
	int err = errno;

	free(argv);
	free(envp);
	errno = err;
	return rc;
}
