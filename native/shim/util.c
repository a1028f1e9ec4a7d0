/* Small helpers: the shim's own log, a growable string, JSON strings,
 * atomic files, names. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shim.h"

/* stderr is <dir>/shim.log: one JSON line per event, as every Berth process logs. */
void logmsg(const char *level, const char *fmt, ...)
{
	char msg[1024];
	struct sbuf b = { 0 };
	struct timespec ts;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	clock_gettime(CLOCK_REALTIME, &ts);
	sb_fmt(&b,
	       "{\"time\":%lld.%03ld,\"level\":\"%s\",\"layer\":\"berth-shim\",\"pid\":%d,\"msg\":",
	       (long long)ts.tv_sec, ts.tv_nsec / 1000000, level, (int)getpid());
	sb_json(&b, msg, strlen(msg));
	sb_str(&b, "}\n");
	if (b.p)
		write_all(2, b.p, b.len);
	free(b.p);
}

void sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p)
			abort(); /* a few KiB refused: nothing sensible is left to do */
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

void sb_fmt(struct sbuf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n > 0)
		sb_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* Bytes that are not valid UTF-8 are kept as \u00XX of the byte (readers
 * get every byte back, as Latin-1), so output is never dropped. */
void sb_json(struct sbuf *b, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	sb_add(b, "\"", 1);
	while (i < n) {
		unsigned char c = u[i];
		size_t k = 0;

		if (c == '"' || c == '\\') {
			sb_add(b, "\\", 1);
			sb_add(b, (const char *)&u[i], 1);
			i++;
			continue;
		}
		if (c == '\n') {
			sb_add(b, "\\n", 2), i++;
			continue;
		}
		if (c == '\r') {
			sb_add(b, "\\r", 2), i++;
			continue;
		}
		if (c == '\t') {
			sb_add(b, "\\t", 2), i++;
			continue;
		}
		if (c < 0x20 || c == 0x7f) {
			sb_fmt(b, "\\u%04x", c), i++;
			continue;
		}
		if (c < 0x80) {
			sb_add(b, (const char *)&u[i], 1), i++;
			continue;
		}
		/* a whole, well-formed UTF-8 sequence passes as is */
		if (c >= 0xc2 && c <= 0xdf)
			k = 2;
		else if (c >= 0xe0 && c <= 0xef)
			k = 3;
		else if (c >= 0xf0 && c <= 0xf4)
			k = 4;
		if (k && i + k <= n) {
			size_t j;

			for (j = 1; j < k && (u[i + j] & 0xc0) == 0x80; j++)
				;
			if (j == k) {
				sb_add(b, (const char *)&u[i], k);
				i += k;
				continue;
			}
		}
		sb_fmt(b, "\\u%04x", c), i++;
	}
	sb_add(b, "\"", 1);
}

int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* temp file, fsync, rename, fsync of the directory: a reader sees the old
 * file or the whole new one, and a crash right after keeps the new one.
 * Without S.durable (--no-fsync) the fsyncs are left out: still atomic for
 * every process, not across a power loss (state a reboot voids anyway). */
int write_file_atomic(int dir_fd, const char *name, const char *data, size_t n)
{
	char tmp[SHIM_NAME_MAX + 32];
	int fd, err;

	snprintf(tmp, sizeof tmp, ".%s.tmp", name);
	fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (write_all(fd, data, n) < 0 || (S.durable && fsync(fd) < 0)) {
		err = errno;
		close(fd);
		unlinkat(dir_fd, tmp, 0);
		errno = err;
		return -1;
	}
	close(fd);
	if (renameat(dir_fd, tmp, dir_fd, name) < 0) {
		err = errno;
		unlinkat(dir_fd, tmp, 0);
		errno = err;
		return -1;
	}
	return S.durable ? fsync(dir_fd) : 0;
}

/* Process names become file names in the state directory. */
bool valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > SHIM_NAME_MAX || s[0] == '.')
		return false;
	for (; *s; s++) {
		char c = *s;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.' || c == '+'))
			return false;
	}
	return true;
}

void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* milliseconds until a CLOCK_MONOTONIC deadline, at least 0 */
long ms_until(const struct timespec *deadline)
{
	struct timespec now;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
	return ms < 0 ? 0 : ms + 1;
}
