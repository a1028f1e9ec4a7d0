/* The log on disk: records appended to <path>, rotated as dockerd rotates
 * (<path> -> <path>.1 -> ... -> <path>.<max-file - 1>, the oldest dropped),
 * rotated files gzip'ed in the background when asked. Each record goes out
 * in one write(2), so a reader never sees half a record once the write
 * returns, and a crash leaves at most one torn record at the end. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "logger.h"

int logfile_open(struct logfile *f)
{
	struct stat st;

	f->fd = open(f->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (f->fd < 0)
		return -1;
	f->size = fstat(f->fd, &st) == 0 ? st.st_size : 0;
	return 0;
}

static void name_of(char *out, size_t cap, const char *path, int i, bool gz)
{
	snprintf(out, cap, "%.4000s.%d%s", path, i, gz ? ".gz" : "");
}

/* The compression of <path>.1 ended: its .gz takes its place. */
static void compressed(struct logfile *f, int status)
{
	char tmp[4200], gz[4200];

	snprintf(tmp, sizeof tmp, "%.4100s.gz.tmp", f->gzip_src);
	snprintf(gz, sizeof gz, "%.4100s.gz", f->gzip_src);
	f->gzip_pid = 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && rename(tmp, gz) == 0) {
		unlink(f->gzip_src);
		return;
	}
	/* the uncompressed file stays: readers take either */
	warnmsg("compressing %s failed (status %d): kept uncompressed", f->gzip_src, status);
	unlink(tmp);
}

void logfile_reaped(struct logfile *f, pid_t pid, int status)
{
	if (f->gzip_pid && pid == f->gzip_pid)
		compressed(f, status);
}

static void wait_compression(struct logfile *f)
{
	int status;

	while (f->gzip_pid) {
		pid_t r = waitpid(f->gzip_pid, &status, 0);

		if (r == f->gzip_pid)
			compressed(f, status);
		else if (r < 0 && errno != EINTR)
			f->gzip_pid = 0;
	}
}

/* gzip -c <path>.1 > <path>.1.gz.tmp, renamed when complete (compressed()). */
static void start_compression(struct logfile *f, const char *src)
{
	char tmp[4200];
	pid_t pid;
	int out;

	snprintf(f->gzip_src, sizeof f->gzip_src, "%.4100s", src);
	snprintf(tmp, sizeof tmp, "%.4100s.gz.tmp", src);
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (out < 0) {
		warnmsg("compress %s: %s", tmp, strerror(errno));
		return;
	}
	pid = fork();
	if (pid == 0) {
		char *argv[] = { "gzip", "-c", "-n", f->gzip_src, NULL };
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		dup2(out, 1);
		execv("/bin/gzip", argv);
		execv("/usr/bin/gzip", argv);
		_exit(127);
	}
	close(out);
	if (pid < 0) {
		warnmsg("compress %s: fork: %s", src, strerror(errno));
		unlink(tmp);
		return;
	}
	f->gzip_pid = pid;
}

static void rotate(struct logfile *f)
{
	char from[4200], to[4200];
	int i;

	if (f->max_file < 2) {
		/* one file: dockerd truncates it */
		if (ftruncate(f->fd, 0) < 0)
			warnmsg("truncate %s: %s", f->path, strerror(errno));
		f->size = 0;
		return;
	}
	wait_compression(f);
	name_of(to, sizeof to, f->path, f->max_file - 1, false);
	unlink(to);
	name_of(to, sizeof to, f->path, f->max_file - 1, true);
	unlink(to);
	for (i = f->max_file - 2; i >= 1; i--) {
		for (int gz = 0; gz < 2; gz++) {
			name_of(from, sizeof from, f->path, i, gz);
			name_of(to, sizeof to, f->path, i + 1, gz);
			if (rename(from, to) < 0 && errno != ENOENT)
				warnmsg("rotate %s: %s", from, strerror(errno));
		}
	}
	name_of(to, sizeof to, f->path, 1, false);
	close(f->fd);
	f->fd = -1;
	if (rename(f->path, to) < 0)
		warnmsg("rotate %s: %s", f->path, strerror(errno));
	if (logfile_open(f) < 0) {
		warnmsg("reopen %s after rotation: %s", f->path, strerror(errno));
		return;
	}
	if (f->compress)
		start_compression(f, to);
}

void logfile_write(struct logfile *f, const char *source, const char *p, size_t n)
{
	static struct buf rec;
	struct timespec t;

	if (f->driver == DRIVER_NONE)
		return;
	clock_gettime(CLOCK_REALTIME, &t);
	buf_clear(&rec);
	if (f->driver == DRIVER_JSON)
		record_json(&rec, source, p, n, &t);
	else
		record_local(&rec, source, p, n, &t);
	if (f->max_size > 0 && f->size > 0 && f->size + (long long)rec.len > f->max_size)
		rotate(f);
	if (f->fd < 0 && logfile_open(f) < 0)
		return;
	/* a regular file: a short write means a full disk, and the rest is lost as with dockerd */
	for (size_t off = 0; off < rec.len;) {
		ssize_t w = write(f->fd, rec.p + off, rec.len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			warnmsg("write %s: %s", f->path, strerror(errno));
			break;
		}
		off += (size_t)w;
		f->size += w;
	}
}

void logfile_finish(struct logfile *f)
{
	wait_compression(f);
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

void line_feed(struct logfile *f, struct line *l, const char *p, size_t n)
{
	while (n) {
		const char *nl = memchr(p, '\n', n);
		size_t take = nl ? (size_t)(nl - p) + 1 : n;

		if (l->len + take > LINE_MAX_BYTES)
			take = LINE_MAX_BYTES - l->len;
		if (l->len == 0 && nl && take == (size_t)(nl - p) + 1) {
			/* a whole line in the chunk: no copy */
			logfile_write(f, l->source, p, take);
		} else {
			memcpy(l->buf + l->len, p, take);
			l->len += take;
			if (l->buf[l->len - 1] == '\n' || l->len == LINE_MAX_BYTES)
				line_flush(f, l);
		}
		p += take;
		n -= take;
	}
}

void line_flush(struct logfile *f, struct line *l)
{
	if (l->len)
		logfile_write(f, l->source, l->buf, l->len);
	l->len = 0;
}
