/* Copying a process's stdio: the client's FIFOs on one side, the pipes (or
 * the pty master) of the container process on the other, and the log file
 * when one was asked for. Nothing here blocks: every descriptor is
 * non-blocking and the main loop polls them. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <termios.h>
#include <unistd.h>

#include "shim.h"

void stream_init(struct stream *s)
{
	memset(s, 0, sizeof *s);
	s->src = -1;
	s->dst = -1;
	s->done = true;
}

void stream_close(struct stream *s)
{
	if (s->src >= 0)
		close(s->src);
	if (s->dst >= 0 && s->close_dst)
		close(s->dst);
	s->src = s->dst = -1;
	free(s->buf);
	free(s->line);
	s->buf = s->line = NULL;
	s->len = s->off = s->line_len = 0;
	s->done = true;
}

/* One record in docker's json-file format, so that berthd can serve `logs`
 * straight from the file. */
static void log_record(int fd, const char *tag, const char *p, size_t n)
{
	struct sbuf b = { 0 };
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	sb_str(&b, "{\"log\":");
	sb_json(&b, p, n);
	sb_fmt(&b, ",\"stream\":\"%s\",\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ\"}\n", tag,
	       tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	       ts.tv_nsec);
	if (write_all(fd, b.p, b.len) < 0)
		logmsg("warn", "log file write: %s", strerror(errno));
	free(b.p);
}

/* Complete lines become records at once; an unfinished line waits for its
 * end (or the stream's, or SHIM_BUF bytes). */
static void log_bytes(struct proc *p, struct stream *s, const char *d, size_t n, bool eof)
{
	if (p->log_fd < 0 || !s->tag)
		return;
	while (n) {
		const char *nl = memchr(d, '\n', n);
		size_t take = nl ? (size_t)(nl - d) + 1 : n;

		if (!s->line && !(s->line = malloc(SHIM_BUF)))
			return;
		if (s->line_len + take > SHIM_BUF)
			take = SHIM_BUF - s->line_len;
		memcpy(s->line + s->line_len, d, take);
		s->line_len += take;
		d += take;
		n -= take;
		if (s->line[s->line_len - 1] == '\n' || s->line_len == SHIM_BUF) {
			log_record(p->log_fd, s->tag, s->line, s->line_len);
			s->line_len = 0;
		}
	}
	if (eof && s->line_len) {
		log_record(p->log_fd, s->tag, s->line, s->line_len);
		s->line_len = 0;
	}
}

static void finish(struct stream *s)
{
	if (s->src >= 0)
		close(s->src);
	s->src = -1;
	if (s->dst >= 0 && s->close_dst)
		close(s->dst);
	s->dst = -1;
	s->len = s->off = 0;
	s->done = true;
}

/* What to poll for: the destination while bytes are pending, else the source. */
int stream_events(struct stream *s)
{
	if (s->done)
		return 0;
	return s->len > s->off ? POLLOUT : POLLIN;
}

static void flush(struct stream *s)
{
	while (s->len > s->off) {
		ssize_t w = write(s->dst, s->buf + s->off, s->len - s->off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			/* EPIPE: nobody will ever read this (a container that closed
			 * its stdin); other errors the same. Stop copying into it;
			 * the log, if any, still gets output. */
			if (s->close_dst)
				close(s->dst);
			s->dst = -1;
			s->len = s->off = 0;
			if (!s->tag)
				finish(s);
			return;
		}
		s->off += (size_t)w;
	}
	s->len = s->off = 0;
	if (s->src < 0)
		finish(s);
}

void stream_service(struct proc *p, struct stream *s, short revents)
{
	ssize_t n;

	if (s->done)
		return;
	if (s->len > s->off) {
		if (revents)
			flush(s);
		/* once asked to end, a drained buffer means read on to empty */
		if (s->done || s->len > s->off || !s->eof_asked)
			return;
	}
	if (!s->buf && !(s->buf = malloc(SHIM_BUF)))
		return;
	n = read(s->src, s->buf, SHIM_BUF);
	if (n < 0 && errno == EINTR)
		return;
	if (n < 0 && errno == EAGAIN) {
		/* Asked to end (closestdin) and drained: what a writer still
		 * holding the FIFO sends later is not waited for. */
		if (s->eof_asked)
			finish(s);
		return;
	}
	if (n <= 0) {
		/* EOF, or EIO from a pty master whose last slave closed */
		log_bytes(p, s, NULL, 0, true);
		finish(s);
		return;
	}
	log_bytes(p, s, s->buf, (size_t)n, false);
	if (s->dst < 0)
		return;
	s->len = (size_t)n;
	s->off = 0;
	flush(s);
}

void console_accept(struct proc *p)
{
	int fd = accept4(p->console_listen, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0)
		return;
	close(p->console_listen);
	p->console_listen = -1;
	unlink(p->console_path);
	p->console_conn = fd;
}

/* The pty master, sent by berth-init's CONSOLE (or runc) with SCM_RIGHTS. */
void console_receive(struct proc *p)
{
	char name[256];
	char ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { name, sizeof name };
	struct msghdr m = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl
	};
	struct cmsghdr *c;
	ssize_t n = recvmsg(p->console_conn, &m, MSG_CMSG_CLOEXEC);
	int master = -1;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	for (c = n > 0 ? CMSG_FIRSTHDR(&m) : NULL; c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			memcpy(&master, CMSG_DATA(c), sizeof master);
	close(p->console_conn);
	p->console_conn = -1;
	if (master < 0) {
		logmsg("warn", "%s: the console socket closed without a pty master", p->name);
		return;
	}
	set_nonblock(master);
	p->master = master;
	if (p->rows || p->cols) {
		struct winsize ws = { .ws_row = p->rows, .ws_col = p->cols };

		ioctl(master, TIOCSWINSZ, &ws);
	}
	/* its own descriptor: the output side closes it at EOF while the
	 * master stays for stdin and resize */
	p->out.src = fcntl(master, F_DUPFD_CLOEXEC, 3);
	p->out.done = p->out.src < 0;
	if (p->in.src >= 0) {
		p->in.dst = master;
		p->in.close_dst = false;
		p->in.done = false;
	}
}
