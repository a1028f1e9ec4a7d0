/*
 * The first process after phase 1, in PARENT_MODE wait or wait-tty: wait for
 * the container process, forward signals to it, and exit with its status
 * (128+N for a signal, as a shell reports it).
 *
 * Signals are blocked and read from a signalfd, so that one poll loop sees
 * them together with the terminal traffic and nothing runs in a handler. In
 * wait-tty mode the pty master arrives on the internal socketpair when the
 * container process runs CONSOLE; until then (or if it never does) the loop
 * only waits and forwards.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "init.h"

static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH };

static struct termios saved_tty;
static int tty_raw;

static void restore_tty(void)
{
	if (tty_raw)
		(void)tcsetattr(STDIN_FILENO, TCSANOW, &saved_tty);
	tty_raw = 0;
}

static void raw_stdin(void)
{
	struct termios raw;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_tty) < 0)
		return;
	raw = saved_tty;
	cfmakeraw(&raw);
	if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0)
		tty_raw = 1;
}

static void copy_winsize(int master)
{
	struct winsize ws;

	if (master >= 0 && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
		(void)ioctl(master, TIOCSWINSZ, &ws);
}

/* write_all for a descriptor that may be non-blocking (the pty master is):
 * wait until it takes more instead of dropping what it refused. */
static int write_all_waiting(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EAGAIN) {
			struct pollfd pf = { .fd = fd, .events = POLLOUT };

			if (poll(&pf, 1, -1) < 0 && errno != EINTR)
				return -1;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Move what is readable from `from` to `to`. Returns 0 when `from` is done
 * (EOF, or EIO: the pty's last slave closed). */
static int pump(int from, int to)
{
	char buf[8192];
	ssize_t n;

	do
		n = read(from, buf, sizeof(buf));
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return 1;
	if (n <= 0)
		return 0;
	/* A reader that went away loses the output; the relay goes on so the
	 * container is never blocked on a full pty. */
	(void)write_all_waiting(to, buf, (size_t)n);
	return 1;
}

static void __attribute__((noreturn)) exit_like(int status)
{
	restore_tty();
	if (WIFSIGNALED(status))
		_exit(128 + WTERMSIG(status));
	_exit(WEXITSTATUS(status));
}

static int sfd = -1;

/* Called before the pid is reported and the container process released:
 * from then on a signal meant for the container (the runtime's `kill` may
 * follow our pid report at once) must be forwarded, not kill us. */
void relay_prepare(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		sigaddset(&set, forwarded[i]);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == 0)
		sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

void wait_for_child(int with_tty)
{
	int master = -1, stdin_open = 1, status = 0, exited = 0;

	if (sfd < 0) {
		/* No way to forward; still wait, so the status is not lost. */
		while (waitpid(g.child, &status, 0) < 0 && errno == EINTR)
			;
		exit_like(status);
	}

	/* A SIGCHLD from before the block was discarded (its default is to
	 * ignore): look once before sleeping. */
	if (waitpid(g.child, &status, WNOHANG) == g.child)
		exited = 1;
	while (!exited) {
		struct pollfd pf[4] = {
			{ .fd = sfd, .events = POLLIN },
			{ .fd = with_tty && master < 0 ? g.sync_fd : -1, .events = POLLIN },
			{ .fd = master >= 0 && stdin_open ? STDIN_FILENO : -1, .events = POLLIN },
			{ .fd = master, .events = POLLIN },
		};

		if (poll(pf, 4, -1) < 0) {
			if (errno == EINTR)
				continue;
			break; /* and wait below, without relaying */
		}
		if (pf[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				int sig = (int)si.ssi_signo;

				if (sig == SIGCHLD)
					continue; /* reaped below */
				if (sig == SIGWINCH && with_tty)
					copy_winsize(master);
				else
					kill(g.child, sig);
			}
			pid_t r = waitpid(g.child, &status, WNOHANG);

			if (r == g.child || (r < 0 && errno == ECHILD))
				exited = 1;
		}
		if (pf[1].revents) {
			/* The master, or EOF: the container process exec'd (or
			 * died) without a CONSOLE for us. */
			if (recv_fd(g.sync_fd, &master) < 0)
				master = -1;
			close(g.sync_fd);
			g.sync_fd = -1;
			with_tty = master >= 0;
			if (master >= 0) {
				(void)fcntl(master, F_SETFL, O_NONBLOCK);
				/* Our terminal's size wins over the plan's, at
				 * once and then on every SIGWINCH (as runc does). */
				if (isatty(STDIN_FILENO))
					copy_winsize(master);
				raw_stdin();
			}
		}
		if (pf[2].revents && !pump(STDIN_FILENO, master))
			stdin_open = 0;
		if (pf[3].revents && !pump(master, STDOUT_FILENO)) {
			close(master);
			master = -1;
		}
	}
	while (!exited && waitpid(g.child, &status, 0) < 0 && errno == EINTR)
		;
	/* What the program wrote just before it exited is still in the pty. */
	while (master >= 0 && pump(master, STDOUT_FILENO)) {
		struct pollfd pf = { .fd = master, .events = POLLIN };

		if (poll(&pf, 1, 0) <= 0)
			break;
	}
	exit_like(status);
}
