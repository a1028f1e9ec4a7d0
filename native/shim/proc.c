/* The processes a shim runs and watches: spawning what the engine asks for
 * (with its stdio set up), registering the container processes it names,
 * reaping every child and orphan, and writing exit files. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shim.h"

/* Exits of processes not (yet) registered: a container process can exit
 * before the engine has told us its pid. Bounded; oldest overwritten. */
#define ORPHANS 128
static struct orphan {
	pid_t pid;
	int status;
	struct timespec at;
} orphans[ORPHANS];
static unsigned orphan_next;

struct proc *proc_find(const char *name)
{
	struct proc *p;

	for (p = S.procs; p; p = p->next)
		if (strcmp(p->name, name) == 0)
			return p;
	return NULL;
}

struct proc *proc_by_pid(pid_t pid)
{
	struct proc *p;

	for (p = S.procs; p; p = p->next)
		if (p->pid == pid && !p->exited)
			return p;
	return NULL;
}

static void write_exit_file(struct proc *p)
{
	char name[SHIM_NAME_MAX + 8], data[160];
	int n;

	snprintf(name, sizeof name, "%s.exit", p->name);
	n = snprintf(data, sizeof data, "{\"pid\":%d,\"status\":%d,\"sec\":%lld,\"nsec\":%ld}\n",
		     (int)p->pid, p->status, (long long)p->exited_at.tv_sec, p->exited_at.tv_nsec);
	if (write_file_atomic(S.dir_fd, name, data, (size_t)n) < 0)
		logmsg("error", "%s: writing %s: %s", p->name, name, strerror(errno));
}

static void mark_exited(struct proc *p, int status, const struct timespec *at)
{
	p->exited = true;
	p->status = status;
	p->exited_at = *at;
	clock_gettime(CLOCK_MONOTONIC, &p->drain_deadline);
	p->drain_deadline.tv_nsec += (long)SHIM_DRAIN_MS * 1000000;
	while (p->drain_deadline.tv_nsec >= 1000000000) {
		p->drain_deadline.tv_sec++;
		p->drain_deadline.tv_nsec -= 1000000000;
	}
	write_exit_file(p);
	logmsg("info", "%s: pid %d exited with status %d", p->name, (int)p->pid, status);
}

void proc_register(struct proc *p, pid_t pid)
{
	unsigned i;

	p->pid = pid;
	for (i = 0; i < ORPHANS; i++)
		if (orphans[i].pid == pid) {
			orphans[i].pid = 0;
			mark_exited(p, orphans[i].status, &orphans[i].at);
			return;
		}
}

void proc_reap(void)
{
	for (;;) {
		struct timespec at;
		struct proc *p;
		int st, code;
		pid_t w = waitpid(-1, &st, WNOHANG);

		if (w <= 0)
			return;
		clock_gettime(CLOCK_REALTIME, &at);
		code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		for (p = S.procs; p; p = p->next) {
			if (p->spawned == w && p->spawn_status < 0) {
				p->spawn_status = code;
				if (p->spawn_conn >= 0) {
					struct conn *c;
					char msg[96];

					snprintf(msg, sizeof msg, "{\"exited\":%d,\"status\":%d}",
						 (int)w, code);
					for (c = S.conns; c; c = c->next)
						if (c->fd == p->spawn_conn)
							conn_reply(c, msg);
					p->spawn_conn = -1;
				}
			}
		}
		p = proc_by_pid(w);
		if (p) {
			mark_exited(p, code, &at);
			continue;
		}
		orphans[orphan_next].pid = w;
		orphans[orphan_next].status = code;
		orphans[orphan_next].at = at;
		orphan_next = (orphan_next + 1) % ORPHANS;
	}
}

bool proc_drained(struct proc *p)
{
	struct timespec now;

	if (!p->exited)
		return false;
	if (p->out.done && p->err.done)
		return true;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > p->drain_deadline.tv_sec ||
	       (now.tv_sec == p->drain_deadline.tv_sec && now.tv_nsec >= p->drain_deadline.tv_nsec);
}

void proc_free(struct proc *p)
{
	struct proc **pp;

	for (pp = &S.procs; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	stream_close(&p->in);
	stream_close(&p->out);
	stream_close(&p->err);
	if (p->master >= 0)
		close(p->master);
	if (p->console_listen >= 0) {
		close(p->console_listen);
		unlink(p->console_path);
	}
	if (p->console_conn >= 0)
		close(p->console_conn);
	if (p->log_fd >= 0)
		close(p->log_fd);
	if (p->in_hold >= 0)
		close(p->in_hold);
	free(p);
}

static int open_console(struct proc *p, const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof a.sun_path || strlen(path) >= sizeof p->console_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(a.sun_path, path);
	strcpy(p->console_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 1) < 0) {
		int err = errno;

		close(fd);
		errno = err;
		return -1;
	}
	p->console_listen = fd;
	return 0;
}

/* The child side of a spawn: stdio onto 0..2, the plan socket onto 3 (plan
 * mode), default signals, everything else closed, exec. */
static void child(int fds[4], int nfds, char **argv)
{
	sigset_t all;
	int i;

	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	for (i = 1; i < NSIG; i++)
		signal(i, SIG_DFL);
	for (i = 0; i < nfds; i++) {
		if (fds[i] == i) {
			fcntl(i, F_SETFD, 0);
			continue;
		}
		if (dup2(fds[i], i) < 0)
			_exit(127);
	}
	syscall(SYS_close_range, nfds, ~0U, 0);
	execv(argv[0], argv);
	if (nfds == 4) {
		/* as berth-init reports a failure, so the engine's reader shows it */
		char msg[512];
		int n = snprintf(msg, sizeof msg,
				 "{\"t\":\"error\",\"step\":\"berth-shim: exec "
				 "%.300s\",\"errno\":%d,\"msg\":\"%s\"}\n",
				 argv[0], errno, strerror(errno));
		if (n > 0)
			write_all(3, msg, (size_t)n);
	}
	_exit(127);
}

static int open_fifo(const char *path, int flags);

/* attach NAME STDIN STDOUT STDERR (README): the FIFOs of a "spare" spawn's
 * pipes. An empty STDIN closes the container's stdin pipe (it reads EOF);
 * an empty output is read and dropped; a binary:// STDOUT (STDERR empty or
 * the same) starts its logger on the two output pipes. All or nothing. */
int proc_attach(struct conn *c, struct proc *p, const char *in, const char *out, const char *err)
{
	int fin = -1, fout = -1, ferr = -1;
	const char *what = in;

	if (!p->unattached) {
		conn_error(c, EINVAL,
			   "attach: process %s was not spawned as a spare, or is attached",
			   p->name);
		return -1;
	}
	if (in[0] &&
	    ((fin = open_fifo(in, O_RDONLY)) < 0 || (p->in_hold = open_fifo(in, O_WRONLY)) < 0))
		goto fail;
	what = out;
	if (logio_is_uri(out)) {
		/* last: a started logger cannot be taken back */
		errno = EINVAL;
		if ((err[0] && strcmp(err, out) != 0) || logio_attach(p, out) < 0)
			goto fail;
	} else {
		if (out[0] && (fout = open_fifo(out, O_RDWR)) < 0)
			goto fail;
		what = err;
		if (err[0] && (ferr = open_fifo(err, O_RDWR)) < 0)
			goto fail;
		p->out.dst = fout;
		p->err.dst = ferr;
	}
	if (fin >= 0) {
		p->in.src = fin;
		p->in.done = false;
	} else {
		close(p->in.dst);
		p->in.dst = -1;
	}
	p->unattached = false;
	conn_reply(c, "{\"ok\":true}");
	return 0;
fail : {
	int e = errno;

	conn_error(c, e, "attach %s: %s: %s", p->name, what, strerror(e));
	if (fin >= 0)
		close(fin);
	if (p->in_hold >= 0)
		close(p->in_hold);
	p->in_hold = -1;
	if (fout >= 0)
		close(fout);
	return -1;
}
}

static int open_fifo(const char *path, int flags)
{
	struct stat st;
	int fd = open(path, flags | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode)) {
		close(fd);
		errno = EINVAL; /* "not a FIFO": a regular file would fill the disk or block nothing */
		return -1;
	}
	return fd;
}

/* spawn NAME MODE STDIN STDOUT STDERR CONSOLE LOG ARGV... (README) */
int proc_spawn(struct conn *c, char **args, int argc)
{
	const char *name = args[1], *mode = args[2], *in = args[3], *out = args[4], *err = args[5],
		   *console = args[6], *logpath = args[7];
	bool spare = strcmp(mode, "spare") == 0, plan = spare || strcmp(mode, "plan") == 0,
	     tty = console[0] != '\0';
	int pin[2] = { -1, -1 }, pout[2] = { -1, -1 }, perr[2] = { -1, -1 }, fds[4], devnull = -1;
	const char *what = "", *wpath = "";
	struct proc *p;
	char reply[64];
	pid_t pid;

	if (!plan && strcmp(mode, "wait") != 0) {
		conn_error(c, EINVAL, "spawn: mode must be plan, spare or wait, not \"%.40s\"",
			   mode);
		return -1;
	}
	if (spare && (in[0] || out[0] || err[0] || tty || logpath[0])) {
		conn_error(c, EINVAL,
			   "spawn: a spare's stdio is named later (attach), not at spawn");
		return -1;
	}
	if (!valid_name(name)) {
		conn_error(c, EINVAL, "spawn: invalid process name \"%.140s\"", name);
		return -1;
	}
	if (proc_find(name)) {
		conn_error(c, EEXIST, "spawn: process %s exists", name);
		return -1;
	}
	if (argc < 9 || args[8][0] != '/') {
		conn_error(c, EINVAL, "spawn: the program must be an absolute path");
		return -1;
	}
	p = calloc(1, sizeof *p);
	if (!p) {
		conn_error(c, ENOMEM, "spawn: out of memory");
		return -1;
	}
	strcpy(p->name, name);
	stream_init(&p->in);
	stream_init(&p->out);
	stream_init(&p->err);
	p->master = p->console_listen = p->console_conn = p->log_fd = p->spawn_conn = p->in_hold =
		-1;
	p->spawn_status = -1;
	p->out.tag = "stdout";
	p->err.tag = "stderr";

	if ((devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) {
		what = "/dev/null";
		goto fail;
	}
	if (logpath[0] &&
	    (p->log_fd = open(logpath, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640)) < 0) {
		what = "log", wpath = logpath;
		goto fail;
	}
	if (in[0]) {
		what = "stdin", wpath = in;
		if ((p->in.src = open_fifo(in, O_RDONLY)) < 0 ||
		    (p->in_hold = open_fifo(in, O_WRONLY)) < 0)
			goto fail;
		p->in.done = false;
		if (!tty) {
			if (pipe2(pin, O_CLOEXEC) < 0)
				goto fail;
			p->in.dst = pin[1];
			p->in.close_dst = true;
			set_nonblock(pin[1]);
		}
	}
	if (logio_is_uri(out)) {
		int lw[2];

		what = "stdout", wpath = out;
		errno = EINVAL; /* stderr goes where stdout goes; no json LOG besides */
		if ((err[0] && strcmp(err, out) != 0) || p->log_fd >= 0 ||
		    logio_open(p, out, tty, lw) < 0)
			goto fail;
		pout[1] = lw[0];
		perr[1] = lw[1];
	} else {
		if (out[0] || p->log_fd >= 0) {
			what = "stdout", wpath = out;
			if (out[0] && (p->out.dst = open_fifo(out, O_RDWR)) < 0)
				goto fail;
			p->out.close_dst = true;
			p->out.done = tty; /* with a terminal: once the master arrives */
			if (!tty) {
				if (pipe2(pout, O_CLOEXEC) < 0)
					goto fail;
				p->out.src = pout[0];
				set_nonblock(pout[0]);
			}
		}
		if (!tty && (err[0] || p->log_fd >= 0)) {
			what = "stderr", wpath = err;
			if (err[0] && (p->err.dst = open_fifo(err, O_RDWR)) < 0)
				goto fail;
			p->err.close_dst = true;
			p->err.done = false;
			if (pipe2(perr, O_CLOEXEC) < 0)
				goto fail;
			p->err.src = perr[0];
			set_nonblock(perr[0]);
		}
	}
	if (spare) {
		/* Pipes now, FIFOs at `attach`: until then what the pipes carry
		 * goes nowhere (berth-init writes nothing on them). */
		what = "pipe";
		if (pipe2(pin, O_CLOEXEC) < 0 || pipe2(pout, O_CLOEXEC) < 0 ||
		    pipe2(perr, O_CLOEXEC) < 0)
			goto fail;
		p->in.dst = pin[1];
		p->in.close_dst = true;
		set_nonblock(pin[1]);
		p->out.src = pout[0];
		p->err.src = perr[0];
		set_nonblock(pout[0]);
		set_nonblock(perr[0]);
		p->out.close_dst = p->err.close_dst = true;
		p->out.done = p->err.done = false;
		p->unattached = true;
	}
	if (tty) {
		what = "console socket", wpath = console;
		if (open_console(p, console) < 0)
			goto fail;
	}
	fds[0] = pin[0] >= 0 ? pin[0] : devnull;
	fds[1] = pout[1] >= 0 ? pout[1] : devnull;
	fds[2] = perr[1] >= 0 ? perr[1] : devnull;
	fds[3] = c->fd;
	what = "fork", wpath = "";
	pid = fork();
	if (pid < 0)
		goto fail;
	if (pid == 0)
		child(fds, plan ? 4 : 3, &args[8]);
	close(devnull);
	if (pin[0] >= 0)
		close(pin[0]);
	if (pout[1] >= 0)
		close(pout[1]);
	if (perr[1] >= 0)
		close(perr[1]);
	p->spawned = pid;
	p->next = S.procs;
	S.procs = p;
	snprintf(reply, sizeof reply, "{\"pid\":%d}", (int)pid);
	conn_reply(c, reply);
	if (plan)
		c->dead = true; /* the socket is the child's plan channel now */
	else
		p->spawn_conn = c->fd;
	logmsg("info", "%s: spawned %s as pid %d", name, args[8], (int)pid);
	return 0;
fail : {
	int e = errno;
	conn_error(c, e, "spawn %s: %s %s: %s", name, what, wpath, strerror(e));
	if (devnull >= 0)
		close(devnull);
	if (pin[0] >= 0)
		close(pin[0]);
	if (pout[1] >= 0)
		close(pout[1]);
	if (perr[1] >= 0)
		close(perr[1]);
	proc_free(p);
	return -1;
}
}
