/*
 * berth-logger: one small log writer per container, started by the shim
 * (containerd-shim-runc-v2 or berth-shim) for a `binary://` stdout URI.
 *
 *   berth-logger [KEY VALUE]...   (fd 3 stdout, fd 4 stderr, fd 5 ready)
 *
 * It writes the container's output to its log (json-file or local format,
 * rotated), and hands the same bytes, as Docker's stdcopy frames, to whoever
 * is connected to its attach socket (berthd, for `docker attach`). It never
 * needs berthd: with nobody connected the log is still written, and the
 * container only ever waits for the disk. Contract: native/README.md,
 * section berth-logger.
 *
 * logger/file.c    the log file, rotation, compression, lines
 * logger/record.c  json-file and local records
 * logger/attach.c  the attach socket and its clients
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "logger/logger.h"

static const char *cid = "";
static struct logfile LF = { .driver = DRIVER_JSON, .fd = -1, .max_file = 1 };
static struct line lines[2] = { { .source = "stdout" }, { .source = "stderr" } };
static int srcs[2] = { 3, 4 };
static const char *attach_path;
static const char *fifos[2]; /* stdout-fifo, stderr-fifo: read these instead of fds 3 and 4 */

void warnmsg(const char *fmt, ...)
{
	char msg[1024], out[1400];
	struct timespec ts;
	va_list ap;
	int n;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	for (char *c = msg; *c; c++)
		if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20)
			*c = ' ';
	clock_gettime(CLOCK_REALTIME, &ts);
	n = snprintf(
		out, sizeof out,
		"{\"time\":%lld.%03ld,\"level\":\"warn\",\"layer\":\"berth-logger\",\"pid\":%d,"
		"\"container\":\"%s\",\"msg\":\"%s\"}\n",
		(long long)ts.tv_sec, ts.tv_nsec / 1000000, (int)getpid(), cid, msg);
	if (n > 0 && write(2, out, (size_t)n < sizeof out ? (size_t)n : sizeof out - 1) < 0) {
		/* nowhere else to say it */
	}
}

void buf_add(struct buf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *q;

		while (cap < b->len + n)
			cap *= 2;
		q = realloc(b->p, cap);
		if (!q)
			abort();
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

void buf_clear(struct buf *b)
{
	b->len = b->off = 0;
}

static void usage(const char *why)
{
	fprintf(stderr, "berth-logger: %s\n", why);
	exit(2);
}

static long long number(const char *key, const char *v, long long min)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno || !*v || *end || n < min) {
		fprintf(stderr, "berth-logger: %s: not a number of at least %lld: \"%s\"\n", key,
			min, v);
		exit(2);
	}
	return n;
}

/* Key/value pairs in any order: containerd's shim passes a URI's query as
 * `key value` arguments in Go's map order. */
static void parse_args(int argc, char **argv)
{
	if (argc % 2 == 0)
		usage("arguments come in KEY VALUE pairs");
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];

		if (!strcmp(k, "driver")) {
			if (!strcmp(v, "json-file"))
				LF.driver = DRIVER_JSON;
			else if (!strcmp(v, "local"))
				LF.driver = DRIVER_LOCAL;
			else if (!strcmp(v, "none"))
				LF.driver = DRIVER_NONE;
			else
				usage("driver: json-file, local or none");
		} else if (!strcmp(k, "path")) {
			LF.path = v;
		} else if (!strcmp(k, "max-size")) {
			LF.max_size = number(k, v, 0);
		} else if (!strcmp(k, "max-file")) {
			LF.max_file = (int)number(k, v, 1);
		} else if (!strcmp(k, "compress")) {
			LF.compress = !strcmp(v, "true") || !strcmp(v, "1");
		} else if (!strcmp(k, "attach")) {
			attach_path = v;
		} else if (!strcmp(k, "stdout-fifo")) {
			fifos[0] = v;
		} else if (!strcmp(k, "stderr-fifo")) {
			fifos[1] = v;
		} else {
			fprintf(stderr, "berth-logger: unknown argument \"%s\"\n", k);
			exit(2);
		}
	}
	if (LF.path && strlen(LF.path) > 4000)
		usage("path: longer than 4000 bytes");
	if (LF.driver != DRIVER_NONE && (!LF.path || LF.path[0] != '/'))
		usage("path: an absolute path is needed for the json-file and local drivers");
}

/* One read from stream i; false at its end (EOF, or an error: containerd
 * hands a tty's logger the write end of an unused pipe as fd 4). */
static bool pump(int i)
{
	static char chunk[READ_CHUNK];
	ssize_t n = read(srcs[i], chunk, sizeof chunk);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return true;
	if (n <= 0) {
		line_flush(&LF, &lines[i]);
		close(srcs[i]);
		srcs[i] = -1;
		return false;
	}
	line_feed(&LF, &lines[i], chunk, (size_t)n);
	attach_send(i + 1, chunk, (size_t)n);
	return true;
}

/* After SIGTERM (containerd's shim has closed its ends): what is readable
 * now is the rest. */
static void drain_now(void)
{
	for (int i = 0; i < 2; i++) {
		struct pollfd p = { .fd = srcs[i], .events = POLLIN };

		while (srcs[i] >= 0 && poll(&p, 1, 0) > 0 && pump(i))
			p.fd = srcs[i];
		if (srcs[i] >= 0) {
			line_flush(&LF, &lines[i]);
			close(srcs[i]);
			srcs[i] = -1;
		}
	}
}

int main(int argc, char **argv)
{
	sigset_t mask;
	int sfd, lfd = -1;
	bool term = false;
	const char *env = getenv("CONTAINER_ID");

	if (env)
		cid = env;
	parse_args(argc, argv);
	for (int i = 0; i < 2; i++) {
		int fl;

		/* A FIFO opened before its writer: poll reports nothing (no HUP)
		 * until a writer came and went, so its end is the shim's close. */
		if (fifos[0] || fifos[1]) {
			srcs[i] = fifos[i] ? open(fifos[i], O_RDONLY | O_NONBLOCK | O_CLOEXEC) : -1;
			if (fifos[i] && srcs[i] < 0) {
				warnmsg("open %s: %s", fifos[i], strerror(errno));
				return 1;
			}
			continue;
		}
		fl = fcntl(srcs[i], F_GETFL);

		if (fl < 0)
			srcs[i] = -1; /* not given */
		else
			fcntl(srcs[i], F_SETFL, fl | O_NONBLOCK);
		if (srcs[i] >= 0)
			fcntl(srcs[i], F_SETFD, FD_CLOEXEC);
	}
	LF.path = LF.path ? LF.path : "";
	if (LF.driver != DRIVER_NONE && logfile_open(&LF) < 0) {
		warnmsg("open %s: %s", LF.path, strerror(errno));
		return 1;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (attach_path)
		lfd = attach_listen(attach_path);
	/* ready: the shim waits for this descriptor to close before it starts the container */
	close(5);

	while (!term && (srcs[0] >= 0 || srcs[1] >= 0)) {
		struct pollfd p[4 + MAX_ATTACH];
		nfds_t n = 0;
		bool paused = attach_backlogged();
		int base;

		p[n++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		p[n++] = (struct pollfd){ .fd = lfd, .events = POLLIN };
		p[n++] = (struct pollfd){ .fd = paused ? -1 : srcs[0], .events = POLLIN };
		p[n++] = (struct pollfd){ .fd = paused ? -1 : srcs[1], .events = POLLIN };
		base = (int)n;
		n += (nfds_t)attach_pollfds(p + base);
		if (poll(p, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			warnmsg("poll: %s", strerror(errno));
			break;
		}
		if (p[0].revents) {
			struct signalfd_siginfo si;

			while (read(sfd, &si, sizeof si) == sizeof si) {
				if (si.ssi_signo == SIGCHLD) {
					int status;
					pid_t pid;

					while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
						logfile_reaped(&LF, pid, status);
				} else {
					term = true;
				}
			}
		}
		attach_serviced(p + base);
		if (p[1].revents & POLLIN)
			attach_accept(lfd);
		for (int i = 0; i < 2; i++)
			if (p[2 + i].revents)
				pump(i);
		attach_flush_all();
	}
	if (term)
		drain_now();
	logfile_finish(&LF);
	attach_end(lfd);
	return 0;
}
