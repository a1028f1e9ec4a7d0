/*
 * The first process: phase 1, in the caller's namespaces.
 *
 * It opens what the container process will need from the host side (console
 * socket, exec fifo, seccomp listener), joins or prepares namespaces, clones
 * the container process, and while that process is held on an internal
 * socketpair it writes its id maps. It releases it (at RELEASE, or at END),
 * places it in its cgroups, and becomes what PARENT_MODE says.
 *
 * Why RELEASE: the first write of a pid into a cgroup.procs waits for an RCU
 * grace period (the kernel's cgroup_threadgroup_rwsem), 5-20 ms. Released
 * before the joins, the container process reads and runs the start of its
 * phase 2 (mounts) meanwhile, and waits at WAIT_CGROUPS for SYNC_JOINED only
 * where the membership starts to matter.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <sys/stat.h>

#include "init.h"

static int op_parent_mode(const struct op *op)
{
	if (need_args(op, 1) < 0)
		return -1;
	if (g.child > 0) {
		op_msg("plan error: PARENT_MODE after CLONE");
		errno = EINVAL;
		return -1;
	}
	if (strcmp(op->arg[0], "exit") == 0)
		g.mode = MODE_EXIT;
	else if (strcmp(op->arg[0], "wait") == 0)
		g.mode = MODE_WAIT;
	else if (strcmp(op->arg[0], "wait-tty") == 0)
		g.mode = MODE_WAIT_TTY;
	else {
		op_msg("plan error: unknown parent mode \"%.64s\"", op->arg[0]);
		errno = EINVAL;
		return -1;
	}
	return 0;
}

static int open_socket_into(const struct op *op, int *slot)
{
	if (need_args(op, 1) < 0)
		return -1;

	int s = connect_unix(op->arg[0]);

	if (s < 0)
		return -1;
	if (*slot >= 0)
		close(*slot);
	*slot = s;
	return 0;
}

static int op_open_console_socket(const struct op *op)
{
	return open_socket_into(op, &g.console_sock);
}

static int op_open_seccomp_listener(const struct op *op)
{
	return open_socket_into(op, &g.listener_sock);
}

/* The fifo is made here (mode 0622, as runc makes it) unless it exists.
 * O_PATH: opening a fifo for writing would block until `start`; WAIT_START
 * reopens this handle through /proc/self/fd when the time comes. */
/* Also a phase 2 op: a container process cloned ahead of need (MORE) opens
 * the fifo itself, before it leaves the runtime's mount tree. */
int op_open_exec_fifo(const struct op *op)
{
	if (need_args(op, 1) < 0)
		return -1;
	/* 0622 exactly: the process may write it after switching to its user. */
	mode_t old = umask(0);
	int made = mknod(op->arg[0], S_IFIFO | 0622, 0);

	umask(old);
	if (made < 0 && errno != EEXIST)
		return -1;

	int fd = open(op->arg[0], O_PATH | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (g.fifo_fd >= 0)
		close(g.fifo_fd);
	g.fifo_fd = fd;
	return 0;
}

static int op_setns(const struct op *op)
{
	int nstype;

	if (need_args(op, 2) < 0 || arg_int(op, 1, &nstype) < 0)
		return -1;

	int fd = open(op->arg[0], O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;

	int rc = setns(fd, nstype);
	int err = errno;

	close(fd);
	errno = err;
	return rc;
}

/* unshare(CLONE_NEWTIME) moves only our future children into the new time
 * namespace, and its offsets can be written only until one enters it: so
 * before CLONE. */
static int op_timens_offsets(const struct op *op)
{
	if (need_args(op, 1) < 0)
		return -1;
	if (unshare(CLONE_NEWTIME) < 0)
		return -1;
	return write_proc("self/timens_offsets", op->arg[0], op->len[0]);
}

static int op_clone(const struct op *op)
{
	uint64_t flags;
	int sp[2];

	if (arg_u64(op, 0, &flags) < 0)
		return -1;
	if (g.mode == MODE_UNSET) {
		op_msg("plan error: CLONE before PARENT_MODE");
		errno = EINVAL;
		return -1;
	}
	if (g.child > 0) {
		op_msg("plan error: a second CLONE");
		errno = EINVAL;
		return -1;
	}
	/* The low byte of clone's flags is the exit signal (CLONE_NEWTIME
	 * lives there too, which is why it cannot be cloned). */
	if (flags & 0xff) {
		op_msg("plan error: CLONE flags %#" PRIx64 " overlap the exit-signal byte", flags);
		errno = EINVAL;
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
		return -1;

	/* An unprivileged first process cannot open the id-map files of a
	 * non-dumpable child (they then belong to root). So, only then, the
	 * child is dumpable while it is held, before it has run anything of
	 * its own, as runc's nsexec does; it says so before we go on, and is
	 * non-dumpable again the moment it is released. Only processes of our
	 * own uid could ptrace it in that window, and they can ptrace us. */
	int map_as_user = (flags & CLONE_NEWUSER) && geteuid() != 0;

	/* Raw clone with no new stack: fork semantics, so the child simply
	 * returns here and carries on in the same code. */
	long pid = syscall(SYS_clone, (unsigned long)flags | SIGCHLD, 0UL, NULL, NULL, 0UL);

	if (pid < 0) {
		int err = errno;

		close(sp[0]);
		close(sp[1]);
		errno = err;
		return -1;
	}
	if (pid == 0) {
		/* Dies with the first process until hand_off() (child.c). Had it
		 * died before this, the read of the release below sees EOF (no
		 * getppid() check: in a new pid namespace it says 0). */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
			_exit(1);
		close(sp[0]);
		g.sync_fd = sp[1];
		g.exit_code = 1;
		g.child = 0;
		if (map_as_user &&
		    (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0 || write_all(g.sync_fd, "d", 1) < 0))
			_exit(1);
		/* Held until the first process has mapped our ids (and, unless
		 * it releases us early, placed us in our cgroups). EOF means it
		 * failed and has reported why. */
		int b = read_byte(g.sync_fd);

		if (b != SYNC_RELEASE && b != SYNC_RELEASE_EARLY)
			_exit(1);
		g.joined = b == SYNC_RELEASE;
		if (map_as_user && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
			die_plain(op->label, errno, "prctl(PR_SET_DUMPABLE, 0)");
		run_container_process();
	}
	close(sp[1]);
	g.sync_fd = sp[0];
	g.child = (pid_t)pid;
	if (map_as_user && read_byte(g.sync_fd) < 0) {
		op_msg("the container process died before it could be mapped");
		errno = ECHILD;
		return -1;
	}
	return 0;
}

static int need_child(void)
{
	if (g.child > 0)
		return 0;
	op_msg("plan error: operation needs the container process (after CLONE)");
	errno = EINVAL;
	return -1;
}

static int op_write_child_file(const struct op *op)
{
	char path[32 + 256];

	if (need_args(op, 2) < 0 || need_child() < 0)
		return -1;
	if (strchr(op->arg[0], '/') || strlen(op->arg[0]) > 255) {
		op_msg("plan error: \"%.64s\" is not a file name", op->arg[0]);
		errno = EINVAL;
		return -1;
	}
	snprintf(path, sizeof(path), "%d/%s", (int)g.child, op->arg[0]);
	return write_proc(path, op->arg[1], op->len[1]);
}

/* Report the pid, then release the container process (in that order, so
 * that the runtime knows the pid before any report of that process). In the
 * wait modes, signals are routed to the relay first: the runtime may signal
 * our pid as soon as it has the report. */
static int release_child(char how)
{
	if (g.mode == MODE_WAIT || g.mode == MODE_WAIT_TTY)
		relay_prepare();
	report_pid(g.child);
	if (write_all(g.sync_fd, &how, 1) < 0)
		return -1;
	g.released = 1;
	return 0;
}

static int op_release(const struct op *op)
{
	(void)op;
	if (need_child() < 0)
		return -1;
	if (g.released) {
		op_msg("plan error: a second RELEASE");
		errno = EINVAL;
		return -1;
	}
	return release_child(SYNC_RELEASE_EARLY);
}

static int op_cgroup_add_child(const struct op *op)
{
	char pid[32];

	if (need_args(op, 1) < 0 || need_child() < 0)
		return -1;
	snprintf(pid, sizeof(pid), "%d", (int)g.child);
	return write_file_once(AT_FDCWD, op->arg[0], pid, strlen(pid));
}

/* Every "{pid}" in s replaced by the container process's pid. */
static char *subst_pid(const char *s)
{
	static const char key[] = "{pid}";
	char pid[32];
	size_t n = 0;

	snprintf(pid, sizeof(pid), "%d", (int)g.child);
	for (const char *p = s; (p = strstr(p, key)); p += sizeof(key) - 1)
		n++;

	char *out = malloc(strlen(s) + n * strlen(pid) + 1);

	if (!out)
		return NULL;

	char *o = out;

	for (const char *p = s;;) {
		const char *hit = strstr(p, key);

		if (!hit) {
			strcpy(o, p);
			break;
		}
		memcpy(o, p, (size_t)(hit - p));
		o += hit - p;
		strcpy(o, pid);
		o += strlen(pid);
		p = hit + sizeof(key) - 1;
	}
	return out;
}

static int op_run_child_helper(const struct op *op)
{
	uint32_t n;

	if (arg_count(op, 0, &n) < 0 || need_child() < 0)
		return -1;
	if (n == 0) {
		op_msg("plan error: a helper without args");
		errno = EINVAL;
		return -1;
	}
	if (exact_args(op, 1 + n) < 0)
		return -1;

	char **argv = calloc((size_t)n + 1, sizeof(*argv));

	if (!argv)
		return -1;
	for (uint32_t i = 0; i < n; i++)
		if (!(argv[i] = subst_pid(op->arg[1 + i])))
			return -1;
	return run_helper(argv);
}

static int run_phase1_op(const struct op *op)
{
	if (check_arity(op) < 0)
		return -1;
	switch (op->code) {
	case OP_PARENT_MODE:
		return op_parent_mode(op);
	case OP_OPEN_CONSOLE_SOCKET:
		return op_open_console_socket(op);
	case OP_OPEN_EXEC_FIFO:
		return op_open_exec_fifo(op);
	case OP_OPEN_SECCOMP_LISTENER:
		return op_open_seccomp_listener(op);
	case OP_SETNS:
		return op_setns(op);
	case OP_TIMENS_OFFSETS:
		return op_timens_offsets(op);
	case OP_CLONE:
		return op_clone(op);
	case OP_WRITE_CHILD_FILE:
		return op_write_child_file(op);
	case OP_CGROUP_ADD_CHILD:
		return op_cgroup_add_child(op);
	case OP_RUN_CHILD_HELPER:
		return op_run_child_helper(op);
	case OP_RELEASE:
		return op_release(op);
	case OP_TAKE_FD:
		return op_take_fd(op);
	default:
		op_msg("plan error: operation %" PRIu32 " is not a phase 1 operation", op->code);
		errno = EINVAL;
		return -1;
	}
}

/* The container process runs while the ops after RELEASE do: only cgroup
 * joins may be there, never anything it could observe half-done (id maps,
 * helpers). Checked before anything runs, so a bad plan starts nothing. */
static void check_after_release(const struct phase *p)
{
	int after = 0;

	for (size_t i = 0; i < p->n; i++) {
		const struct op *op = &p->ops[i];

		if (after && op->code != OP_CGROUP_ADD_CHILD) {
			op_msg_clear();
			op_msg("plan error: operation %" PRIu32
			       " after RELEASE (only CGROUP_ADD_CHILD may follow it)",
			       op->code);
			die_op(op, EINVAL);
		}
		if (op->code == OP_RELEASE)
			after = 1;
	}
}

static void close_slot(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void run_first_process(void)
{
	struct phase p;

	read_exactly(1);
	for (int more = 1; more;) {
		more = 0;
		if (read_phase(g.plan_fd, &p) < 0)
			die_plain("read plan (phase 1)", errno, op_msg_get());
		check_after_release(&p);
		for (size_t i = 0; i < p.n; i++) {
			op_msg_clear();
			if (p.ops[i].code == OP_MORE) {
				/* the rest of phase 1 comes when the runtime knows it;
				 * only what ran so far may be done ahead of need */
				if (i + 1 != p.n || g.released) {
					op_msg("plan error: MORE must end its part of phase 1, "
					       "before RELEASE");
					die_op(&p.ops[i], EINVAL);
				}
				more = 1;
				break;
			}
			if (run_phase1_op(&p.ops[i]) < 0)
				die_op(&p.ops[i], errno);
		}
	}
	if (g.child == 0)
		die_plain("plan", EINVAL, "plan error: phase 1 has no CLONE");

	if (!g.released) {
		if (release_child(SYNC_RELEASE) < 0)
			die_plain("release the container process", errno, NULL);
	} else {
		/* A failure here means the container process is gone: what
		 * it reported, or its exit status, tells the story. */
		(void)write_all(g.sync_fd, &(char){ SYNC_JOINED }, 1);
	}

	/* The container process has its own copies of these; ours would only
	 * keep the runtime from seeing EOF on the plan socket at exec. */
	close_slot(&g.plan_fd);
	close_slot(&g.console_sock);
	close_slot(&g.fifo_fd);
	close_slot(&g.listener_sock);

	switch (g.mode) {
	case MODE_WAIT:
		close_slot(&g.sync_fd);
		wait_for_child(0);
	case MODE_WAIT_TTY:
		wait_for_child(1);
	default:
		/* The container process dies with us until it hands off (at
		 * WAIT_START or EXEC): stay until then, or until it is gone. */
		(void)read_byte(g.sync_fd);
		_exit(0);
	}
}
