/* The control socket: requests in the plan's record format (u32le argc,
 * then argc × (u32le len, bytes); arg 0 is the verb), one JSON line per
 * answer. See native/README.md for each verb. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <termios.h>
#include <unistd.h>

#include "shim.h"

void conn_accept(void)
{
	struct timeval tv = { 2, 0 };
	struct conn *c;
	int fd = accept4(S.listen_fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	/* answers are a few hundred bytes; a peer that never reads them must
	 * not hold the whole shim */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	c = calloc(1, sizeof *c);
	if (!c) {
		close(fd);
		return;
	}
	c->fd = fd;
	c->oom_fd = c->oom_ctl = -1;
	c->next = S.conns;
	S.conns = c;
}

void conn_reply(struct conn *c, const char *json)
{
	size_t n = strlen(json);
	char *line = malloc(n + 1);

	if (!line || c->dead) {
		free(line);
		return;
	}
	memcpy(line, json, n);
	line[n] = '\n';
	if (write_all(c->fd, line, n + 1) < 0)
		c->dead = true;
	free(line);
}

void conn_error(struct conn *c, int err, const char *fmt, ...)
{
	char msg[768];
	struct sbuf b = { 0 };
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	sb_fmt(&b, "{\"error\":");
	sb_json(&b, msg, strlen(msg));
	sb_fmt(&b, ",\"errno\":%d}", err);
	conn_reply(c, b.p);
	free(b.p);
}

static bool parse_int(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static void proc_json(struct sbuf *b, struct proc *p)
{
	sb_str(b, "{\"name\":");
	sb_json(b, p->name, strlen(p->name));
	sb_fmt(b, ",\"spawned\":%d,\"spawnStatus\":%d,\"pid\":%d,\"exited\":%s", (int)p->spawned,
	       p->spawn_status, (int)p->pid, p->exited ? "true" : "false");
	if (p->exited)
		sb_fmt(b, ",\"status\":%d,\"sec\":%lld,\"nsec\":%ld", p->status,
		       (long long)p->exited_at.tv_sec, p->exited_at.tv_nsec);
	sb_fmt(b, ",\"terminal\":%s,\"stdinOpen\":%s,\"outputDone\":%s}",
	       p->master >= 0 || p->console_listen >= 0 || p->console_conn >= 0 ? "true" : "false",
	       p->in.done ? "false" : "true", p->out.done && p->err.done ? "true" : "false");
}

static void answer_wait(struct conn *c, struct proc *p)
{
	struct sbuf b = { 0 };

	proc_json(&b, p);
	conn_reply(c, b.p);
	free(b.p);
}

/* Needs the process by name, answering an error when it is not there. */
static struct proc *named(struct conn *c, const char *verb, const char *name)
{
	struct proc *p = proc_find(name);

	if (!p)
		conn_error(c, ESRCH, "%s: no process %.140s in this shim", verb, name);
	return p;
}

static void dispatch(struct conn *c, char **a, int n)
{
	const char *verb = a[0];
	struct proc *p;
	long v, w;
	char fname[SHIM_NAME_MAX + 8];

#define NEED(k)                                                                             \
	if (n != (k)) {                                                                     \
		conn_error(c, EINVAL, "%s: takes %d operands, got %d", verb, (k)-1, n - 1); \
		return;                                                                     \
	}
	if (strcmp(verb, "spawn") == 0) {
		if (n < 9) {
			conn_error(c, EINVAL, "spawn: takes at least 8 operands, got %d", n - 1);
			return;
		}
		proc_spawn(c, a, n);
	} else if (strcmp(verb, "mount") == 0) {
		NEED(6);
		if (!parse_int(a[4], 0, 0x7fffffffL, &v)) {
			conn_error(c, EINVAL, "mount: bad flags \"%.40s\"", a[4]);
			return;
		}
		mnt_mount(c, a[1], a[2], a[3], v, a[5]);
	} else if (strcmp(verb, "umount") == 0) {
		NEED(2);
		mnt_umount(c, a[1]);
	} else if (strcmp(verb, "attach") == 0) {
		NEED(5);
		if (!(p = named(c, verb, a[1])))
			return;
		proc_attach(c, p, a[2], a[3], a[4]);
	} else if (strcmp(verb, "register") == 0) {
		NEED(3);
		if (!(p = named(c, verb, a[1])))
			return;
		if (!parse_int(a[2], 1, 1 << 30, &v)) {
			conn_error(c, EINVAL, "register: bad pid \"%.40s\"", a[2]);
			return;
		}
		if (p->pid) {
			conn_error(c, EEXIST, "register: %s already has pid %d", p->name,
				   (int)p->pid);
			return;
		}
		proc_register(p, (pid_t)v);
		answer_wait(c, p);
	} else if (strcmp(verb, "state") == 0) {
		struct sbuf b = { 0 };

		NEED(1);
		sb_fmt(&b, "{\"pid\":%d,\"procs\":[", (int)getpid());
		for (p = S.procs; p; p = p->next) {
			proc_json(&b, p);
			if (p->next)
				sb_str(&b, ",");
		}
		sb_str(&b, "]}");
		conn_reply(c, b.p);
		free(b.p);
	} else if (strcmp(verb, "wait") == 0) {
		NEED(2);
		if (!(p = named(c, verb, a[1])))
			return;
		if (proc_drained(p))
			answer_wait(c, p);
		else
			strcpy(c->waiting, p->name);
	} else if (strcmp(verb, "waitspawn") == 0) {
		NEED(2);
		if (!(p = named(c, verb, a[1])))
			return;
		if (p->spawn_status >= 0) {
			answer_wait(c, p);
		} else {
			strcpy(c->waiting, p->name);
			c->waiting_spawn = true;
		}
	} else if (strcmp(verb, "kill") == 0) {
		NEED(3);
		if (!(p = named(c, verb, a[1])))
			return;
		if (!parse_int(a[2], 0, 64, &v)) {
			conn_error(c, EINVAL, "kill: bad signal \"%.40s\"", a[2]);
			return;
		}
		/* Only a process not yet reaped: its pid cannot have been reused. */
		if (!p->pid || p->exited) {
			conn_error(c, ESRCH, "kill: process %s is not running", p->name);
			return;
		}
		if (kill(p->pid, (int)v) < 0)
			conn_error(c, errno, "kill %d: %s", (int)p->pid, strerror(errno));
		else
			conn_reply(c, "{\"ok\":true}");
	} else if (strcmp(verb, "resize") == 0) {
		struct winsize ws = { 0 };

		NEED(4);
		if (!(p = named(c, verb, a[1])))
			return;
		if (!parse_int(a[2], 0, 65535, &v) || !parse_int(a[3], 0, 65535, &w)) {
			conn_error(c, EINVAL, "resize: bad size %.20s x %.20s", a[2], a[3]);
			return;
		}
		ws.ws_row = (unsigned short)v;
		ws.ws_col = (unsigned short)w;
		if (p->master < 0 && (p->console_listen >= 0 || p->console_conn >= 0)) {
			p->rows = ws.ws_row;
			p->cols = ws.ws_col;
			conn_reply(c, "{\"ok\":true}");
			return;
		}
		if (p->master < 0) {
			conn_error(c, ENOTTY, "resize: process %s has no terminal", p->name);
			return;
		}
		if (ioctl(p->master, TIOCSWINSZ, &ws) < 0)
			conn_error(c, errno, "resize: %s", strerror(errno));
		else
			conn_reply(c, "{\"ok\":true}");
	} else if (strcmp(verb, "closestdin") == 0) {
		NEED(2);
		if (!(p = named(c, verb, a[1])))
			return;
		/* What the FIFO still holds goes first (the client closed its end
		 * before asking, as dockerd does): the source is read until it is
		 * empty, then closed, and the pipe once the bytes are written. */
		if (p->in_hold >= 0)
			close(p->in_hold);
		p->in_hold = -1;
		p->in.eof_asked = true;
		while (!p->in.done && p->in.len <= p->in.off)
			stream_service(p, &p->in, 0);
		conn_reply(c, "{\"ok\":true}");
	} else if (strcmp(verb, "forget") == 0) {
		NEED(2);
		if (!(p = named(c, verb, a[1])))
			return;
		if (p->pid && !p->exited) {
			conn_error(c, EBUSY, "forget: process %s is still running", p->name);
			return;
		}
		/* its exit record goes with it: a deleted exec leaves nothing behind */
		snprintf(fname, sizeof fname, "%s.exit", p->name);
		if (unlinkat(S.dir_fd, fname, 0) < 0 && errno != ENOENT)
			logmsg("warn", "forget %s: removing %s: %s", p->name, fname,
			       strerror(errno));
		proc_free(p);
		conn_reply(c, "{\"ok\":true}");
	} else if (strcmp(verb, "oom") == 0) {
		NEED(3);
		if (!parse_int(a[2], 0, 1L << 40, &v)) {
			conn_error(c, EINVAL, "oom: bad count \"%.40s\"", a[2]);
			return;
		}
		oom_watch(c, a[1], v);
	} else if (strcmp(verb, "hold") == 0) {
		NEED(1);
		if (S.procs) {
			conn_error(c, EBUSY,
				   "hold: this shim already runs processes: it is no spare");
			return;
		}
		c->hold = true;
		S.held = true;
		conn_reply(c, "{\"ok\":true}");
	} else if (strcmp(verb, "claim") == 0) {
		NEED(1);
		S.held = false;
		conn_reply(c, "{\"ok\":true}");
	} else if (strcmp(verb, "shutdown") == 0) {
		NEED(1);
		conn_reply(c, "{\"ok\":true}");
		S.quit = true;
	} else {
		conn_error(c, EINVAL, "unknown request \"%.40s\"", verb);
	}
#undef NEED
}

static uint32_t le32(const char *p)
{
	const unsigned char *u = (const unsigned char *)p;

	return (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
}

/* Runs every complete request in the buffer (stopping at a pending wait).
 * Operands are made NUL-terminated in place: each length word is consumed
 * before its bytes, so the word after an operand can carry its NUL. */
void conn_process(struct conn *c)
{
	while (!c->dead && !c->waiting[0] && !c->oom_file[0] && c->len >= 4) {
		char *args[SHIM_ARGS_MAX];
		uint32_t argc = le32(c->buf), i;
		size_t off = 4, lens[SHIM_ARGS_MAX];

		if (argc == 0 || argc > SHIM_ARGS_MAX) {
			conn_error(c, EINVAL, "bad request: %u operands", argc);
			c->dead = true;
			return;
		}
		for (i = 0; i < argc; i++) {
			if (c->len < off + 4)
				return; /* incomplete */
			lens[i] = le32(c->buf + off);
			if (lens[i] > SHIM_REQ_MAX || off + 4 + lens[i] > SHIM_REQ_MAX) {
				conn_error(c, EINVAL, "bad request: over %d bytes", SHIM_REQ_MAX);
				c->dead = true;
				return;
			}
			off += 4;
			if (c->len < off + lens[i])
				return;
			args[i] = c->buf + off;
			off += lens[i];
		}
		/* complete: terminate operands (shift each down over its length word) */
		{
			char *rec = malloc(off + argc);
			size_t o = 0, r = 4;

			if (!rec) {
				c->dead = true;
				return;
			}
			for (i = 0; i < argc; i++) {
				r += 4;
				memcpy(rec + o, c->buf + r, lens[i]);
				if (memchr(rec + o, '\0', lens[i])) {
					free(rec);
					conn_error(c, EINVAL, "bad request: NUL byte in operand %u",
						   i);
					c->dead = true;
					return;
				}
				args[i] = rec + o;
				o += lens[i];
				rec[o++] = '\0';
				r += lens[i];
			}
			memmove(c->buf, c->buf + off, c->len - off);
			c->len -= off;
			if (strcmp(args[0], "spawn") == 0 &&
			    strcmp(argc > 2 ? args[2] : "", "plan") == 0 && c->len) {
				conn_error(
					c, EPROTO,
					"spawn: bytes after a plan-mode spawn before its answer");
				c->dead = true;
			} else {
				dispatch(c, args, (int)argc);
			}
			free(rec);
		}
	}
}

void conn_service(struct conn *c)
{
	ssize_t n;

	if (c->cap - c->len < 4096) {
		size_t cap = c->cap ? c->cap * 2 : 8192;
		char *b;

		if (cap > SHIM_REQ_MAX + 8192) {
			conn_error(c, EINVAL, "bad request: over %d bytes", SHIM_REQ_MAX);
			c->dead = true;
			return;
		}
		b = realloc(c->buf, cap);
		if (!b) {
			c->dead = true;
			return;
		}
		c->buf = b;
		c->cap = cap;
	}
	n = read(c->fd, c->buf + c->len, c->cap - c->len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		c->dead = true;
		return;
	}
	c->len += (size_t)n;
	conn_process(c);
}

/* Answers the waits whose process has exited and whose output is copied
 * (or has had SHIM_DRAIN_MS to be). */
void waiters_notify(void)
{
	struct conn *c;

	for (c = S.conns; c; c = c->next) {
		struct proc *p;

		if (!c->waiting[0] || c->dead)
			continue;
		p = proc_find(c->waiting);
		if (!p) {
			conn_error(c, ESRCH, "wait: process %s was forgotten", c->waiting);
			c->waiting[0] = '\0';
			c->waiting_spawn = false;
		} else if (c->waiting_spawn ? p->spawn_status >= 0 : proc_drained(p)) {
			answer_wait(c, p);
			c->waiting[0] = '\0';
			c->waiting_spawn = false;
		} else {
			continue;
		}
		conn_process(c);
	}
}
