/* The attach socket: whoever connects (berthd) gets each chunk the logger
 * reads, as a Docker stdcopy frame, queued per client so that a client never
 * blocks the log; a client with more than ATTACH_HIGH queued pauses the
 * reading of the container's output instead of losing any of it. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "logger.h"

#define ATTACH_HIGH (1024 * 1024) /* bytes queued for one attacher before the streams pause */
#define FINAL_MS    5000 /* how long queued output may take to reach attachers at the end */

struct attacher {
	int fd;
	struct buf out;
};

static struct attacher att[MAX_ATTACH];
static int natt;
static const char *sock_path;
static ino_t sock_ino; /* the socket is removed at the end only while it is still ours */

int attach_listen(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof a.sun_path) {
		warnmsg("attach socket %s: path too long", path);
		return -1;
	}
	strcpy(a.sun_path, path);
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || chmod(path, 0600) < 0 ||
	    listen(fd, 16) < 0) {
		warnmsg("attach socket %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	struct stat st;

	sock_path = path;
	if (stat(path, &st) == 0)
		sock_ino = st.st_ino;
	return fd;
}

static void drop_attacher(int i)
{
	close(att[i].fd);
	free(att[i].out.p);
	att[i] = att[--natt];
	memset(&att[natt], 0, sizeof att[natt]);
}

void attach_accept(int lfd)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0)
		return;
	if (natt == MAX_ATTACH) {
		close(fd);
		return;
	}
	att[natt++] = (struct attacher){ .fd = fd };
}

/* Docker's stdcopy frame: stream, three zero bytes, u32 BE length, bytes. */
void attach_send(int stream, const char *p, size_t n)
{
	unsigned char h[8] = { (unsigned char)stream,
			       0,
			       0,
			       0,
			       (unsigned char)(n >> 24),
			       (unsigned char)(n >> 16),
			       (unsigned char)(n >> 8),
			       (unsigned char)n };

	for (int i = 0; i < natt; i++) {
		buf_add(&att[i].out, h, sizeof h);
		buf_add(&att[i].out, p, n);
	}
}

/* Writes what is queued; false when the attacher is gone. */
static bool attacher_flush(struct attacher *a)
{
	while (a->out.off < a->out.len) {
		ssize_t w =
			send(a->fd, a->out.p + a->out.off, a->out.len - a->out.off, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			return true;
		if (w <= 0)
			return false;
		a->out.off += (size_t)w;
	}
	buf_clear(&a->out);
	return true;
}

bool attach_backlogged(void)
{
	for (int i = 0; i < natt; i++)
		if (att[i].out.len - att[i].out.off > ATTACH_HIGH)
			return true;
	return false;
}

int attach_pollfds(struct pollfd *p)
{
	for (int i = 0; i < natt; i++)
		p[i] = (struct pollfd){ .fd = att[i].fd,
					.events = att[i].out.len > att[i].out.off ? POLLOUT
										  : POLLIN };
	return natt;
}

/* After poll: p[] as attach_pollfds() filled it. A client only ever hangs up
 * (what it sends is discarded); one that can take more gets it. */
void attach_serviced(const struct pollfd *p)
{
	for (int i = natt - 1; i >= 0; i--) {
		short r = p[i].revents;

		if (!r)
			continue;
		if (r & POLLIN) {
			char sink[512];
			ssize_t k = recv(att[i].fd, sink, sizeof sink, MSG_DONTWAIT);

			if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR)) {
				drop_attacher(i);
				continue;
			}
		}
		if ((r & (POLLERR | POLLHUP | POLLNVAL)) ||
		    ((r & POLLOUT) && !attacher_flush(&att[i])))
			drop_attacher(i);
	}
}

void attach_flush_all(void)
{
	for (int i = natt - 1; i >= 0; i--)
		if (!attacher_flush(&att[i]))
			drop_attacher(i);
}

/* The end: queued frames get FINAL_MS to reach their attachers. */
static void final_flush(void)
{
	struct timespec start, now;

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (natt) {
		struct pollfd p[MAX_ATTACH];
		long left;

		for (int i = natt - 1; i >= 0; i--)
			if (!attacher_flush(&att[i]) || att[i].out.off == att[i].out.len)
				drop_attacher(i);
		clock_gettime(CLOCK_MONOTONIC, &now);
		left = FINAL_MS - (now.tv_sec - start.tv_sec) * 1000 -
		       (now.tv_nsec - start.tv_nsec) / 1000000;
		if (!natt || left <= 0)
			break;
		for (int i = 0; i < natt; i++)
			p[i] = (struct pollfd){ .fd = att[i].fd, .events = POLLOUT };
		poll(p, (nfds_t)natt, (int)left);
	}
	while (natt)
		drop_attacher(natt - 1);
}

/* The socket goes (if it is still ours), then the clients get what is queued
 * and their connections close: a closed connection means the log is complete. */
void attach_end(int lfd)
{
	if (lfd >= 0) {
		struct stat st;

		close(lfd);
		if (stat(sock_path, &st) == 0 && st.st_ino == sock_ino)
			unlink(sock_path);
	}
	final_flush();
}
