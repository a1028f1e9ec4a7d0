/* OOM watches: `oom FILE SEEN` answers once the cgroup's OOM kill counter
 * ("oom_kill N" in FILE) is above SEEN, so that the engine hears of an OOM
 * kill when it happens, not when the container exits. FILE is a v1
 * memory.oom_control (notified through an eventfd registered in the same
 * directory's cgroup.event_control) or a v2 memory.events (notified through
 * inotify: the kernel signals a modification when a counter changes). The
 * counter, not the notification, decides the answer: nothing is missed
 * between two requests, and a notification without a kill answers nothing. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "shim.h"

/* v1 notifies before the OOM killer picks its victim: the counter moves
 * moments later, so it is read again for a while after a notification. */
#define OOM_RECHECK_MS	   5
#define OOM_RECHECK_FOR_MS 1000

/* The counter's value, or -1 (errno set) when the file has none. */
static long oom_kills(const char *file)
{
	char buf[1024];
	ssize_t n;
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	const char *p;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	for (p = buf; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, "oom_kill ", 9) == 0)
			return strtol(p + 9, NULL, 10);
	errno = ENOTSUP;
	return -1;
}

static bool ends_with(const char *s, const char *tail)
{
	size_t a = strlen(s), b = strlen(tail);

	return a >= b && strcmp(s + a - b, tail) == 0 && (a == b || s[a - b - 1] == '/');
}

static void answer(struct conn *c, long kills)
{
	char msg[64];

	snprintf(msg, sizeof msg, "{\"oomKills\":%ld}", kills);
	conn_reply(c, msg);
	oom_close(c);
}

/* Reads the counter and answers when it passed the request's mark. */
static bool oom_check(struct conn *c)
{
	long k = oom_kills(c->oom_file);

	if (k < 0) {
		/* the cgroup is gone (the container was deleted): nothing more will come */
		conn_error(c, errno, "oom: %s: %s", c->oom_file, strerror(errno));
		oom_close(c);
		return true;
	}
	if (k > c->oom_seen) {
		answer(c, k);
		return true;
	}
	return false;
}

void oom_watch(struct conn *c, const char *file, long seen)
{
	char dir[sizeof c->oom_file], line[64];
	int ec = -1;

	if (strlen(file) >= sizeof c->oom_file || file[0] != '/') {
		conn_error(c, EINVAL, "oom: the file must be an absolute path under %zu bytes",
			   sizeof c->oom_file);
		return;
	}
	strcpy(c->oom_file, file);
	c->oom_seen = seen;
	if (ends_with(file, "memory.events")) {
		c->oom_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
		if (c->oom_fd < 0 || inotify_add_watch(c->oom_fd, file, IN_MODIFY) < 0)
			goto fail;
	} else if (ends_with(file, "memory.oom_control")) {
		strcpy(dir, file);
		*strrchr(dir, '/') = '\0';
		c->oom_ctl = open(file, O_RDONLY | O_CLOEXEC);
		if (c->oom_ctl < 0)
			goto fail;
		c->oom_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (c->oom_fd < 0)
			goto fail;
		snprintf(line, sizeof line, "%d %d", c->oom_fd, c->oom_ctl);
		strncat(dir, "/cgroup.event_control", sizeof dir - strlen(dir) - 1);
		ec = open(dir, O_WRONLY | O_CLOEXEC);
		if (ec < 0 || write_all(ec, line, strlen(line)) < 0)
			goto fail;
		close(ec);
	} else {
		conn_error(c, EINVAL, "oom: %.200s is neither memory.events nor memory.oom_control",
			   file);
		c->oom_file[0] = '\0';
		return;
	}
	/* registered first, read second: a kill between the two is in the counter */
	oom_check(c);
	return;
fail:
	conn_error(c, errno, "oom: watching %.200s: %s", file, strerror(errno));
	if (ec >= 0)
		close(ec);
	oom_close(c);
}

void oom_service(struct conn *c)
{
	char buf[4096];

	/* drain the notification (an eventfd's count, inotify records) */
	while (read(c->oom_fd, buf, sizeof buf) > 0)
		;
	if (oom_check(c)) {
		conn_process(c);
	} else {
		clock_gettime(CLOCK_MONOTONIC, &c->oom_recheck_until);
		c->oom_recheck_until.tv_sec += OOM_RECHECK_FOR_MS / 1000;
	}
}

int oom_timeout(void)
{
	struct conn *c;

	for (c = S.conns; c; c = c->next)
		if (c->oom_fd >= 0 && c->oom_recheck_until.tv_sec &&
		    ms_until(&c->oom_recheck_until) > 1)
			return OOM_RECHECK_MS;
	return -1;
}

void oom_recheck(void)
{
	struct conn *c;

	for (c = S.conns; c; c = c->next) {
		if (c->oom_fd < 0 || !c->oom_recheck_until.tv_sec || c->dead)
			continue;
		if (ms_until(&c->oom_recheck_until) <= 1)
			c->oom_recheck_until.tv_sec = 0;
		else if (oom_check(c))
			conn_process(c);
	}
}

void oom_close(struct conn *c)
{
	if (c->oom_fd >= 0)
		close(c->oom_fd);
	if (c->oom_ctl >= 0)
		close(c->oom_ctl);
	c->oom_fd = c->oom_ctl = -1;
	c->oom_file[0] = '\0';
	c->oom_recheck_until.tv_sec = 0;
}
