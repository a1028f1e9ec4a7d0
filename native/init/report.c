/*
 * Reports: one JSON object per line on the plan socket, each line sent with
 * a single send(2) (a unix stream socket takes a short line whole) so that the
 * two processes of the init, which share the socket until the first one lets
 * go of it, never interleave inside a line.
 *
 * Writing JSON is the only JSON the init does. Strings are escaped completely
 * (quotes, backslashes, every control byte) because labels and messages carry
 * paths, and a path may hold any byte but NUL.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "init.h"

/* Strings are cut at STR_MAX_BYTES (a report is for a human, and its first
 * 4 KiB say what went wrong); a line holds two of them fully escaped (6 bytes
 * per byte at worst), so a line is never cut and always parses. */
#define STR_MAX_BYTES  4096
#define LINE_MAX_BYTES (2 * (6 * STR_MAX_BYTES + 2) + 256)

struct line {
	char buf[LINE_MAX_BYTES];
	size_t len;
};

static char msg_buf[STR_MAX_BYTES];
static int msg_set;

void op_msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg_buf, sizeof(msg_buf), fmt, ap);
	va_end(ap);
	msg_set = 1;
}

void op_msg_clear(void)
{
	msg_set = 0;
}

const char *op_msg_get(void)
{
	return msg_set ? msg_buf : NULL;
}

static void put_raw(struct line *l, const char *s)
{
	size_t n = strlen(s);

	if (n > sizeof(l->buf) - 2 - l->len)
		n = sizeof(l->buf) - 2 - l->len; /* keep room for "}\n" */
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

/* A JSON string literal, escaped, cut at STR_MAX_BYTES of input. */
static void put_str(struct line *l, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	char tmp[6 * STR_MAX_BYTES + 3];
	size_t o = 0;

	tmp[o++] = '"';
	for (size_t i = 0; s[i] != '\0' && i < STR_MAX_BYTES; i++) {
		unsigned char c = (unsigned char)s[i];

		switch (c) {
		case '"':
			tmp[o++] = '\\';
			tmp[o++] = '"';
			break;
		case '\\':
			tmp[o++] = '\\';
			tmp[o++] = '\\';
			break;
		case '\n':
			tmp[o++] = '\\';
			tmp[o++] = 'n';
			break;
		case '\r':
			tmp[o++] = '\\';
			tmp[o++] = 'r';
			break;
		case '\t':
			tmp[o++] = '\\';
			tmp[o++] = 't';
			break;
		default:
			if (c < 0x20 || c == 0x7f) {
				tmp[o++] = '\\';
				tmp[o++] = 'u';
				tmp[o++] = '0';
				tmp[o++] = '0';
				tmp[o++] = hex[c >> 4];
				tmp[o++] = hex[c & 15];
			} else {
				tmp[o++] = (char)c;
			}
		}
	}
	tmp[o++] = '"';
	tmp[o] = '\0';
	put_raw(l, tmp);
}

static void emit(struct line *l)
{
	memcpy(l->buf + l->len, "}\n", 2);
	l->len += 2;
	/* MSG_NOSIGNAL: a runtime that went away must cost us an EPIPE, not
	 * our life by SIGPIPE (signals are back to default after EXEC resets
	 * them, and EXEC can still fail and report). A failed report cannot be
	 * reported; the exit status still tells. */
	const char *p = l->buf;
	size_t left = l->len;

	while (left > 0) {
		ssize_t n = send(g.plan_fd, p, left, MSG_NOSIGNAL);

		if (n < 0 && errno == ENOTSOCK)
			n = write(g.plan_fd, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		p += n;
		left -= (size_t)n;
	}
}

void report_pid(pid_t pid)
{
	struct line l = { .len = 0 };
	char num[32];

	snprintf(num, sizeof(num), "%d", (int)pid);
	put_raw(&l, "{\"t\":\"pid\",\"pid\":");
	put_raw(&l, num);
	emit(&l);
}

void report_sync(const char *tag)
{
	struct line l = { .len = 0 };

	put_raw(&l, "{\"t\":\"sync\",\"tag\":");
	put_str(&l, tag);
	emit(&l);
}

void report_ready(void)
{
	struct line l = { .len = 0 };

	put_raw(&l, "{\"t\":\"ready\"");
	emit(&l);
}

void report_warn(const char *step, const char *msg)
{
	struct line l = { .len = 0 };

	put_raw(&l, "{\"t\":\"warn\",\"step\":");
	put_str(&l, step);
	put_raw(&l, ",\"msg\":");
	put_str(&l, msg);
	emit(&l);
}

void report_error(const char *step, int err, const char *msg)
{
	struct line l = { .len = 0 };
	char num[32];

	snprintf(num, sizeof(num), "%d", err);
	put_raw(&l, "{\"t\":\"error\",\"step\":");
	put_str(&l, step);
	put_raw(&l, ",\"errno\":");
	put_raw(&l, num);
	put_raw(&l, ",\"msg\":");
	put_str(&l, msg);
	emit(&l);
}

/* The first process never leaves a half-made container behind: once it has
 * reported its own failure the container process is killed (it is still
 * blocked on the release, or released by RELEASE it is at most at
 * WAIT_CGROUPS, or it is the child of a plan that failed). */
static void __attribute__((noreturn)) leave(void)
{
	if (g.exit_code == 2 && g.child > 0) {
		kill(g.child, SIGKILL);
		(void)waitpid(g.child, NULL, 0);
	}
	_exit(g.exit_code);
}

void die_op(const struct op *op, int err)
{
	const char *msg = op_msg_get();

	report_error(op->label, err, msg ? msg : strerror(err));
	leave();
}

void die_plain(const char *step, int err, const char *msg)
{
	report_error(step, err, msg ? msg : strerror(err));
	leave();
}
