/*
 * berth-shim: one small monitor per container, the parent of its processes.
 *
 *   berth-shim [--no-fsync] <state-dir>
 *
 * Started by the engine; returns once it serves <state-dir>/shim.sock, as a
 * daemon in a session of its own and a child subreaper, so that it outlives
 * the engine and every process of the container (berth-init's first process
 * exits, the container process is re-parented here) is its child. It runs
 * what the engine tells it to run, copies stdio, reaps, and records exits.
 * It decides nothing. The contract is native/README.md, section berth-shim.
 *
 * shim/proc.c   spawn, register, reap, exit files
 * shim/io.c     stdio copying, log records, the pty master
 * shim/proto.c  the control socket's requests and answers
 * shim/util.c   log, strings, JSON, atomic files
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "shim/shim.h"

struct shim S = { .dir_fd = -1, .listen_fd = -1, .sig_fd = -1, .durable = true };

/* Fails start-up: the words go to the engine through the ready pipe. */
static void die(int ready, const char *what)
{
	char msg[512];
	int n = snprintf(msg, sizeof msg, "berth-shim: %s: %s", what, strerror(errno));

	if (n > 0)
		write_all(ready, msg, (size_t)n);
	_exit(1);
}

static int serve_socket(int ready)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd;

	/* relative to the state directory (our cwd): no sun_path length limit on the directory */
	strcpy(a.sun_path, "shim.sock");
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die(ready, "socket");
	if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
		errno = EADDRINUSE;
		die(ready, "another shim serves this state directory");
	}
	close(fd);
	unlink(a.sun_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 64) < 0)
		die(ready, "listen on shim.sock");
	return fd;
}

static void start(const char *dir)
{
	char pidline[32];
	int ready[2], fd, n;
	sigset_t chld;
	pid_t pid;

	if (pipe2(ready, O_CLOEXEC) < 0) {
		perror("berth-shim: pipe");
		exit(1);
	}
	pid = fork();
	if (pid < 0) {
		perror("berth-shim: fork");
		exit(1);
	}
	if (pid > 0) {
		char msg[512];
		ssize_t r;

		close(ready[1]);
		r = read(ready[0], msg, sizeof msg - 1);
		if (r == 1 && msg[0] == 'k')
			exit(0);
		if (r <= 0)
			fprintf(stderr, "berth-shim: exited during start-up\n");
		else
			fprintf(stderr, "%.*s\n", (int)r, msg);
		exit(1);
	}
	close(ready[0]);
	/* Own session (no terminal's or engine's signals reach us), and every
	 * orphan below us is ours to reap. */
	if (setsid() < 0)
		die(ready[1], "setsid");
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		die(ready[1], "prctl(PR_SET_CHILD_SUBREAPER)");
	umask(077);
	if (chdir(dir) < 0)
		die(ready[1], "chdir to the state directory");
	S.dir = dir;
	if ((S.dir_fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		die(ready[1], "open the state directory");
	if ((fd = open("/dev/null", O_RDWR)) < 0 || dup2(fd, 0) < 0 || dup2(fd, 1) < 0)
		die(ready[1], "/dev/null");
	if (fd > 2)
		close(fd);
	if ((fd = open("shim.log", O_WRONLY | O_APPEND | O_CREAT, 0600)) < 0 || dup2(fd, 2) < 0)
		die(ready[1], "open shim.log");
	if (fd > 2)
		close(fd);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGTTIN, SIG_IGN);
	signal(SIGTTOU, SIG_IGN);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	if ((S.sig_fd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK)) < 0)
		die(ready[1], "signalfd");
	S.listen_fd = serve_socket(ready[1]);
	n = snprintf(pidline, sizeof pidline, "%d\n", (int)getpid());
	if (write_file_atomic(S.dir_fd, "shim.pid", pidline, (size_t)n) < 0)
		die(ready[1], "write shim.pid");
	logmsg("info", "serving %s", dir);
	write_all(ready[1], "k", 1);
	close(ready[1]);
}

/* What each poll entry belongs to. */
enum kind { K_SIG, K_LISTEN, K_CONN, K_CONSOLE_LISTEN, K_CONSOLE_CONN, K_STREAM, K_OOM };
struct slot {
	enum kind kind;
	void *obj;
	struct stream *stream;
};

/* Room for twice as many poll entries; a few KiB refused leaves nothing sensible to do. */
static void grow(struct pollfd **pfd, struct slot **slot, size_t *cap)
{
	size_t next = *cap ? *cap * 2 : 32;
	struct pollfd *p = realloc(*pfd, next * sizeof **pfd);

	if (!p)
		abort();
	*pfd = p;
	struct slot *q = realloc(*slot, next * sizeof **slot);
	if (!q)
		abort();
	*slot = q;
	*cap = next;
}

/* No process, or only a berth-init started ahead of need (never attached
 * to a task's stdio): a spare shim, nothing of anyone's in it. */
static bool only_spares(void)
{
	struct proc *p;

	for (p = S.procs; p; p = p->next)
		if (!p->unattached)
			return false;
	return true;
}

static void loop(void)
{
	size_t cap = 0;
	struct pollfd *pfd = NULL;
	struct slot *slot = NULL;

	while (!S.quit) {
		struct proc *p;
		struct conn *c, **cp;
		size_t n = 0, i;
		int timeout = -1;

#define ADD(fd_, ev_, kind_, obj_, st_)                                                     \
	do {                                                                                \
		if (n == cap)                                                               \
			grow(&pfd, &slot, &cap);                                            \
		pfd[n] = (struct pollfd){ .fd = (fd_), .events = (short)(ev_) };            \
		slot[n] = (struct slot){ .kind = (kind_), .obj = (obj_), .stream = (st_) }; \
		n++;                                                                        \
	} while (0)

		ADD(S.sig_fd, POLLIN, K_SIG, NULL, NULL);
		ADD(S.listen_fd, POLLIN, K_LISTEN, NULL, NULL);
		for (c = S.conns; c; c = c->next) {
			ADD(c->fd, POLLIN, K_CONN, c, NULL);
			if (c->oom_fd >= 0)
				ADD(c->oom_fd, POLLIN, K_OOM, c, NULL);
		}
		for (p = S.procs; p; p = p->next) {
			struct stream *ss[3] = { &p->in, &p->out, &p->err };

			if (p->console_listen >= 0)
				ADD(p->console_listen, POLLIN, K_CONSOLE_LISTEN, p, NULL);
			if (p->console_conn >= 0)
				ADD(p->console_conn, POLLIN, K_CONSOLE_CONN, p, NULL);
			for (i = 0; i < 3; i++) {
				int ev = stream_events(ss[i]);

				if (ev)
					ADD(ev == POLLOUT ? ss[i]->dst : ss[i]->src, ev, K_STREAM,
					    p, ss[i]);
			}
			if (p->exited && !proc_drained(p)) {
				long ms = ms_until(&p->drain_deadline);

				if (timeout < 0 || ms < timeout)
					timeout = (int)ms;
			}
		}
#undef ADD
		{
			int t = oom_timeout();

			if (t >= 0 && (timeout < 0 || t < timeout))
				timeout = t;
		}
		if (poll(pfd, n, timeout) < 0) {
			if (errno == EINTR)
				continue;
			logmsg("error", "poll: %s", strerror(errno));
			break;
		}
		for (i = 0; i < n; i++) {
			if (!pfd[i].revents)
				continue;
			switch (slot[i].kind) {
			case K_SIG: {
				struct signalfd_siginfo si;

				while (read(S.sig_fd, &si, sizeof si) == sizeof si)
					;
				proc_reap();
				break;
			}
			case K_LISTEN:
				conn_accept();
				break;
			case K_CONN:
				conn_service(slot[i].obj);
				break;
			case K_CONSOLE_LISTEN:
				console_accept(slot[i].obj);
				break;
			case K_CONSOLE_CONN:
				console_receive(slot[i].obj);
				break;
			case K_STREAM:
				stream_service(slot[i].obj, slot[i].stream, pfd[i].revents);
				break;
			case K_OOM:
				oom_service(slot[i].obj);
				break;
			}
			/* a request or a reap may have freed a process that later
			 * slots of this round still name: poll again (level-triggered,
			 * nothing is missed) */
			if (slot[i].kind == K_CONN || slot[i].kind == K_SIG ||
			    slot[i].kind == K_OOM)
				break;
		}
		oom_recheck();
		waiters_notify();
		for (cp = &S.conns; *cp;) {
			c = *cp;
			if (!c->dead) {
				cp = &c->next;
				continue;
			}
			for (p = S.procs; p; p = p->next)
				if (p->spawn_conn == c->fd)
					p->spawn_conn = -1;
			if (c->hold && S.held && only_spares()) {
				logmsg("info",
				       "spare: its engine is gone before claiming it: exiting");
				S.quit = true;
				S.spare_gone = true;
			}
			oom_close(c);
			*cp = c->next;
			close(c->fd);
			free(c->buf);
			free(c);
		}
	}
	free(pfd);
	free(slot);
}

int main(int argc, char **argv)
{
	struct stat st;

	const char *dir;

	if (argc == 3 && strcmp(argv[1], "--no-fsync") == 0) {
		S.durable = false;
		argv++;
		argc--;
	}
	if (argc != 2 || argv[1][0] != '/') {
		fprintf(stderr, "usage: berth-shim [--no-fsync] <state-dir> (an absolute path)\n");
		return 2;
	}
	dir = argv[1];
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "berth-shim: %s: not a directory\n", dir);
		return 1;
	}
	start(dir);
	loop();
	unlinkat(S.dir_fd, "shim.sock", 0);
	unlinkat(S.dir_fd, "shim.pid", 0);
	if (S.spare_gone) {
		/* nothing of a spare is worth keeping: its log and its directory
		 * go, unless the directory holds anything else */
		unlinkat(S.dir_fd, "shim.log", 0);
		rmdir(S.dir);
		return 0;
	}
	logmsg("info", "shut down");
	return 0;
}
