/*
 * The container process: phase 2.
 *
 * Released by the first process, it reads the whole of phase 2 (up to END)
 * before doing anything, then executes it in order. Only SYNC reads from the
 * socket afterwards (one ACK or ABORT each), so the runtime may write phase 2
 * at once and answer the SYNC points later.
 *
 * Released early (RELEASE), it may not yet be in its cgroups: WAIT_CGROUPS
 * waits for the first process to finish them, and until it has, the ops that
 * need the membership are refused (see needs_cgroups).
 */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "init.h"

/* EOF instead of SYNC_JOINED: a join failed, and the first process has
 * reported it (the runtime kills us anyway); leave without a second report. */
int op_wait_cgroups(const struct op *op)
{
	(void)op;
	if (g.joined)
		return 0;

	int b = read_byte(g.sync_fd);

	if (b < 0)
		_exit(1);
	if (b != SYNC_JOINED) {
		op_msg("protocol error: byte %d from the first process, expected its cgroup joins",
		       b);
		errno = EPROTO;
		return -1;
	}
	g.joined = 1;
	return 0;
}

/* Until here the container process dies with the first process (its
 * PR_SET_PDEATHSIG), which dies with the runtime: a runtime killed half-way
 * through create leaves no process that nobody recorded. From here on the
 * runtime knows the pid (it was reported before phase 2), and the process
 * must outlive the first process, which exits now in mode exit. */
void hand_off(void)
{
	if (g.handed_off)
		return;
	g.handed_off = 1;
	(void)prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
	if (g.mode == MODE_EXIT)
		(void)write_all(g.sync_fd, &(char){ SYNC_HANDOFF }, 1);
}

/* What must not happen outside the container's cgroups: a new cgroup
 * namespace (its root is fixed at unshare), anything that lets another
 * program look at the process (SYNC for the runtime's hooks, HOOK, the
 * `ready` of WAIT_START), and EXEC. */
static int needs_cgroups(const struct op *op)
{
	uint64_t flags;

	if (g.joined)
		return 0;
	switch (op->code) {
	case OP_UNSHARE:
		if (arg_u64(op, 0, &flags) < 0)
			return -1;
		if (!(flags & CLONE_NEWCGROUP))
			return 0;
		break;
	case OP_SYNC:
	case OP_HOOK:
	case OP_WAIT_START:
	case OP_EXEC:
		break;
	default:
		return 0;
	}
	op_msg("plan error: operation %" PRIu32 " before WAIT_CGROUPS", op->code);
	errno = EINVAL;
	return -1;
}

static int op_unknown(const struct op *op)
{
	op_msg("plan error: operation %" PRIu32 " is not a phase 2 operation", op->code);
	errno = EINVAL;
	return -1;
}

static int run_phase2_op(const struct op *op)
{
	if (check_arity(op) < 0 || needs_cgroups(op) < 0)
		return -1;
	switch (op->code) {
	case OP_OPEN_EXEC_FIFO:
		return op_open_exec_fifo(op);
	case OP_UNSHARE:
		return op_unshare(op);
	case OP_SETRESUID:
		return op_setresuid(op);
	case OP_SETRESGID:
		return op_setresgid(op);
	case OP_SETHOSTNAME:
		return op_sethostname(op);
	case OP_SETDOMAINNAME:
		return op_setdomainname(op);
	case OP_MOUNT:
		return op_mount(op);
	case OP_SET_ROOT:
		return op_set_root(op);
	case OP_MOUNT_IN_ROOT:
		return op_mount_in_root(op);
	case OP_MKNOD_IN_ROOT:
		return op_mknod_in_root(op);
	case OP_SYMLINK_IN_ROOT:
		return op_symlink_in_root(op);
	case OP_MKDIR_IN_ROOT:
		return op_mkdir_in_root(op);
	case OP_MASK_IN_ROOT:
		return op_mask_in_root(op);
	case OP_READONLY_IN_ROOT:
		return op_readonly_in_root(op);
	case OP_PIVOT_ROOT:
		return op_pivot_root(op);
	case OP_MOVE_ROOT:
		return op_move_root(op);
	case OP_WRITE_PROC:
		return op_write_proc(op);
	case OP_EXPECT_PROCFS_IN_ROOT:
		return op_expect_procfs_in_root(op);
	case OP_CHROOT:
		return op_chroot(op);
	case OP_CHROOT_PROCESS_ROOT:
		return op_chroot_process_root(op);
	case OP_NULL_FD:
		return op_null_fd(op);
	case OP_SYNC:
		return op_sync(op);
	case OP_HOOK:
		return op_hook(op);
	case OP_CONSOLE:
		return op_console(op);
	case OP_SETSID:
		return op_setsid(op);
	case OP_RLIMIT:
		return op_rlimit(op);
	case OP_PERSONALITY:
		return op_personality(op);
	case OP_IOPRIO:
		return op_ioprio(op);
	case OP_SCHED:
		return op_sched(op);
	case OP_NO_NEW_PRIVS:
		return op_no_new_privs(op);
	case OP_CAPS_BOUNDING:
		return op_caps_bounding(op);
	case OP_USER:
		return op_user(op);
	case OP_CAPS:
		return op_caps(op);
	case OP_SECCOMP_INIT:
		return op_seccomp_init(op);
	case OP_SECCOMP_ATTR:
		return op_seccomp_attr(op);
	case OP_SECCOMP_ARCH:
		return op_seccomp_arch(op);
	case OP_SECCOMP_RULE:
		return op_seccomp_rule(op);
	case OP_SECCOMP_LOAD:
		return op_seccomp_load(op);
	case OP_CHDIR:
		return op_chdir(op);
	case OP_UMASK:
		return op_umask(op);
	case OP_WAIT_START:
		return op_wait_start(op);
	case OP_EXEC:
		return op_exec(op);
	case OP_BIND_DEV_IN_ROOT:
		return op_bind_dev_in_root(op);
	case OP_FIND_EXEC:
		return op_find_exec(op);
	case OP_WAIT_CGROUPS:
		return op_wait_cgroups(op);
	case OP_SESSION_KEYRING:
		return op_session_keyring(op);
	case OP_MOUNT_SETATTR_IN_ROOT:
		return op_mount_setattr_in_root(op);
	case OP_MOUNT_COPYUP_IN_ROOT:
		return op_mount_copyup_in_root(op);
	default:
		return op_unknown(op);
	}
}

void run_container_process(void)
{
	struct phase p;

	read_exactly(0);
	if (read_phase(g.plan_fd, &p) < 0)
		die_plain("read plan (phase 2)", errno, op_msg_get());
	for (size_t i = 0; i < p.n; i++) {
		op_msg_clear();
		if (run_phase2_op(&p.ops[i]) < 0)
			die_op(&p.ops[i], errno);
	}
	/* Only a successful EXEC leaves the loop above. */
	die_plain("plan", EINVAL, "plan error: phase 2 ended without EXEC");
}
