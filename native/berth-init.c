/*
 * berth-init: executes a plan compiled by the runtime (src/runtime/plan/).
 *
 *   berth-init <plan-fd>
 *
 * The contract (wire format, reports, operations, the two processes) is
 * native/README.md. This file is only the start-up: become non-dumpable, make
 * sure we run from a sealed copy of ourselves, then hand over to the first
 * process's phase (init/parent.c), which clones the container process
 * (init/child.c).
 *
 * init/wire.c      plan records and their operands
 * init/report.c    the JSON-line reports, failure exits
 * init/selfexe.c   the sealed memfd re-exec
 * init/parent.c    phase 1 ops, CLONE, the release
 * init/relay.c     PARENT_MODE wait and wait-tty
 * init/child.c     phase 2 dispatch
 * init/inroot.c    resolution and creation beneath the SET_ROOT directory
 * init/rootfs.c    mounts, nodes, links, masks, pivot_root / move
 * init/process.c   ids, names, limits, scheduling, capabilities, console
 * init/run.c       hooks and id-map helpers (fork, feed, capture, timeout)
 * init/seccomp.c   libseccomp
 * init/exec.c      SYNC, WAIT_START, FIND_EXEC, EXEC
 * init/procfs.c    writes into procfs through a proven procfs handle
 * init/util.c      descriptor and socket helpers
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "init/init.h"

struct init_state g = {
	.plan_fd = -1,
	.exit_code = 2,
	.mode = MODE_UNSET,
	.child = 0,
	.sync_fd = -1,
	.console_sock = -1,
	.fifo_fd = -1,
	.listener_sock = -1,
	.root_fd = -1,
	.seccomp = NULL,
	.proc_fd = -1,
};

static int parse_fd(const char *s)
{
	char *end;
	long v;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 0 || v > 1 << 30)
		return -1;
	if (fcntl((int)v, F_GETFD) < 0)
		return -1;
	return (int)v;
}

int main(int argc, char **argv)
{
	/* A runtime killed (kill -9) before it recorded what we made must not
	 * leave us, nor the container process (which dies with us until it
	 * is handed off), behind. */
	pid_t parent = getppid();

	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != parent)
		return 2;
	/* First of all: nobody may ptrace us or open our /proc files while we
	 * hold host descriptors and run as the host's root. The flag lasts
	 * until the final execve (and is set again after the re-exec, since
	 * execve resets it). */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
		perror("berth-init: prctl(PR_SET_DUMPABLE)");
		return 2;
	}
	if (argc < 2 || (g.plan_fd = parse_fd(argv[1])) < 0) {
		fprintf(stderr, "usage: berth-init <plan-fd> (an open AF_UNIX stream socket)\n");
		return 2;
	}
	/* From here on every failure is reported on the plan socket. */
	if (ensure_sealed_self(argc, argv) < 0)
		die_plain("re-execute berth-init from a sealed memfd", errno, op_msg_get());
	op_msg_clear();
	/* Before any SETNS or UNSHARE: the namespace whose hostname is the
	 * runtime's (the host's), which SETHOSTNAME must never change. */
	note_start_uts();
	/* Likewise the procfs every write into /proc goes through
	 * (init/procfs.c): the runtime's, before any op can change what
	 * "/proc" names. */
	if (open_proc_root() < 0)
		die_plain("open the runtime's procfs", errno, op_msg_get());
	/* Our own descriptor must never reach the container's program, even
	 * if the runtime put it in the preserved range by mistake. */
	if (set_cloexec(g.plan_fd, 1) < 0)
		die_plain("set close-on-exec on the plan socket", errno, NULL);

	/* A runtime that goes away must give us EPIPE, not kill us mid-plan;
	 * and SIGCHLD must not be inherited as ignored, or waitpid on hooks and
	 * on the container process would fail. EXEC resets both to default. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR || signal(SIGCHLD, SIG_DFL) == SIG_ERR)
		die_plain("set up signal dispositions", errno, NULL);

	run_first_process();
}
