/* stdout URIs, as containerd's shim takes them: `file:///path` (the output
 * appended to a file) and `binary:///path?key=value&...#ns/id` (a logger
 * process that gets the output as fds 3 and 4 and closes fd 5 when ready).
 * The engine adds the fragment (the task's namespace and id, the logger's
 * CONTAINER_NAMESPACE and CONTAINER_ID). Without a terminal the container
 * writes into the file or the logger's pipes itself, with nothing of the
 * shim in between; with one, the pty master is copied there. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shim.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#define LOGGER_READY_MS 10000

bool logio_is_uri(const char *s)
{
	return strncmp(s, "binary://", 9) == 0 || strncmp(s, "file://", 7) == 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decoding in place (and '+' as a space in a query, as Go's
 * url.ParseQuery); -1 on a broken escape or an encoded NUL. */
static int unescape(char *s, bool plus)
{
	char *o = s;

	for (; *s; s++) {
		if (*s == '%') {
			int h = hexval(s[1]), l = h < 0 ? -1 : hexval(s[2]);

			if (l < 0 || (h == 0 && l == 0))
				return -1;
			*o++ = (char)(h << 4 | l);
			s += 2;
		} else {
			*o++ = plus && *s == '+' ? ' ' : *s;
		}
	}
	*o = '\0';
	return 0;
}

/* The path of a URI's "scheme://" rest: no host, absolute, decoded. */
static char *uri_path(const char *rest, size_t n)
{
	char *path = strndup(rest, n);

	if (!path)
		return NULL;
	if (path[0] != '/' || unescape(path, false) < 0) {
		free(path);
		errno = EINVAL;
		return NULL;
	}
	return path;
}

static int open_file(struct proc *p, const char *uri, bool tty, int fds[2])
{
	char *path = uri_path(uri + 7, strcspn(uri + 7, "?#"));
	int fd;

	if (!path)
		return -1;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	free(path);
	if (fd < 0)
		return -1;
	if (tty) {
		p->out.dst = fd;
		p->out.close_dst = true;
		return 0;
	}
	fds[0] = fd;
	fds[1] = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	return fds[1] < 0 ? -1 : 0;
}

/* The logger's side of the fork: its descriptors moved above 10 first, so
 * that no dup2 into 3..5 overwrites one still to be placed. */
static void logger_child(int src[6], int ex, char **argv, char **envp)
{
	int hi[6];
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int i = 1; i < NSIG; i++)
		signal(i, SIG_DFL);
	for (int i = 0; i < 6; i++)
		if ((hi[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 10)) < 0)
			goto fail;
	if (ex < 10 && (ex = fcntl(ex, F_DUPFD_CLOEXEC, 10)) < 0)
		goto fail;
	for (int i = 0; i < 6; i++)
		if (dup2(hi[i], i) < 0)
			goto fail;
	for (int i = 0; i < 6; i++)
		if (hi[i] != ex)
			close(hi[i]);
	/* close-on-exec, not closed: ex (above 10) must stay open to report a
	 * failed exec, or the shim reads its EOF as a started logger */
	syscall(SYS_close_range, 6, ~0U, CLOSE_RANGE_CLOEXEC);
	execve(argv[0], argv, envp);
fail : {
	int e = errno;

	if (write(ex, &e, sizeof e) < 0) {
		/* the shim sees EOF and a dead logger */
	}
	_exit(127);
}
}

/* Waits for the exec (an errno back on the exec pipe, or its EOF) and then
 * for the logger's readiness (fd 5 closed or a byte on it). */
static int logger_wait(pid_t pid, int ex, int ready)
{
	struct pollfd pf = { .fd = ready, .events = POLLIN };
	int e = 0;
	ssize_t n;

	do
		n = read(ex, &e, sizeof e);
	while (n < 0 && errno == EINTR);
	if (n == sizeof e) {
		waitpid(pid, NULL, 0);
		errno = e;
		return -1;
	}
	if (poll(&pf, 1, LOGGER_READY_MS) <= 0) {
		kill(pid, SIGKILL);
		errno = ETIMEDOUT;
		return -1;
	}
	return 0;
}

/* Starts the logger of a binary:// URI. With `given` (the read ends of
 * pipes the container already writes into: a spare's, at `attach`), those
 * are its fds 3 and 4 and nothing comes back in fds; otherwise new pipes,
 * whose write ends come back in fds (or, with a terminal, go to the
 * master's copy). */
static int start_logger(struct proc *p, const char *uri, bool tty, const int given[2], int fds[2])
{
	const char *rest = uri + 9, *frag = strchr(rest, '#');
	size_t plen = strcspn(rest, "?#");
	char *path = uri_path(rest, plen), *query = NULL, *argv[SHIM_ARGS_MAX + 2],
	     *envp[3] = { 0 };
	char *ns = NULL;
	int po[2] = { -1, -1 }, pe[2] = { -1, -1 }, rd[2] = { -1, -1 }, ex[2] = { -1, -1 },
	    devnull = -1;
	int argc = 0, ret = -1, err = EINVAL;
	pid_t pid;

	if (!path)
		return -1;
	argv[argc++] = path;
	if (rest[plen] == '?') {
		query = strndup(rest + plen + 1,
				(frag ? (size_t)(frag - rest) : strlen(rest)) - plen - 1);
		for (char *save = NULL, *kv = query ? strtok_r(query, "&", &save) : NULL; kv;
		     kv = strtok_r(NULL, "&", &save)) {
			char *eq = strchr(kv, '=');

			if (argc + 2 > SHIM_ARGS_MAX)
				goto out;
			if (eq)
				*eq = '\0';
			if (unescape(kv, true) < 0 || (eq && unescape(eq + 1, true) < 0))
				goto out;
			argv[argc++] = kv;
			argv[argc++] = eq ? eq + 1 : "";
		}
	}
	argv[argc] = NULL;
	/* the engine's fragment: NS/ID */
	if (!frag || !strchr(frag + 1, '/'))
		goto out;
	ns = strndup(frag + 1, (size_t)(strchr(frag + 1, '/') - frag - 1));
	if (!ns || asprintf(&envp[0], "CONTAINER_NAMESPACE=%s", ns) < 0 ||
	    asprintf(&envp[1], "CONTAINER_ID=%s", strchr(frag + 1, '/') + 1) < 0)
		goto fail_errno;
	if ((devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0 ||
	    (!given && (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0)) ||
	    pipe2(rd, O_CLOEXEC) < 0 || pipe2(ex, O_CLOEXEC) < 0)
		goto fail_errno;
	pid = fork();
	if (pid < 0)
		goto fail_errno;
	if (pid == 0) {
		int src[6] = {
			devnull, devnull, 2, given ? given[0] : po[0], given ? given[1] : pe[0],
			rd[1]
		};

		logger_child(src, ex[1], argv, envp);
	}
	close(ex[1]);
	ex[1] = -1;
	close(rd[1]);
	rd[1] = -1;
	if (logger_wait(pid, ex[0], rd[0]) < 0)
		goto fail_errno;
	logmsg("info", "%s: logger %s started as pid %d", p->name, path, (int)pid);
	if (given) {
		/* the container's pipes are the logger's now */
	} else if (tty) {
		set_nonblock(po[1]);
		p->out.dst = po[1];
		p->out.close_dst = true;
		po[1] = -1;
	} else {
		fds[0] = po[1];
		fds[1] = pe[1];
		po[1] = pe[1] = -1;
	}
	ret = 0;
	goto out;
fail_errno:
	err = errno;
out:
	for (int *fd = (int[]){ po[0], po[1], pe[0], pe[1], rd[0], rd[1], ex[0], ex[1], devnull },
		 i = 0;
	     i < 9; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	free(path);
	free(query);
	free(ns);
	free(envp[0]);
	free(envp[1]);
	if (ret < 0)
		errno = err;
	return ret;
}

int logio_open(struct proc *p, const char *uri, bool tty, int fds[2])
{
	fds[0] = fds[1] = -1;
	if (strncmp(uri, "file://", 7) == 0)
		return open_file(p, uri, tty, fds);
	return start_logger(p, uri, tty, NULL, fds);
}

/* `attach` of a binary:// URI to a spare's stdout and stderr pipes: the
 * logger gets their read ends, and the shim drops its own, so that the
 * logger sees EOF when the container's last writer closes (as when the
 * spawn started it). A file:// URI cannot be attached: the container's
 * fds 1 and 2 are the file itself on that path, and a spare's are pipes. */
int logio_attach(struct proc *p, const char *uri)
{
	int given[2] = { p->out.src, p->err.src }, unused[2];

	if (strncmp(uri, "binary://", 9) != 0 || given[0] < 0 || given[1] < 0) {
		errno = EINVAL;
		return -1;
	}
	/* blocking for the logger, as the pipes it gets from a spawn are (the
	 * shim read them without waiting, and drops them now) */
	for (int i = 0; i < 2; i++)
		fcntl(given[i], F_SETFL, fcntl(given[i], F_GETFL) & ~O_NONBLOCK);
	if (start_logger(p, uri, false, given, unused) < 0) {
		int e = errno;

		set_nonblock(given[0]);
		set_nonblock(given[1]);
		errno = e;
		return -1;
	}
	close(p->out.src);
	close(p->err.src);
	p->out.src = p->err.src = -1;
	p->out.done = p->err.done = true;
	return 0;
}
