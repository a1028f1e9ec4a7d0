/*
 * berth-init: shared declarations of the plan executor.
 *
 * The contract (wire format, reports, operations) is native/README.md. Every
 * operation is one small function `int op_xxx(const struct op *)` that returns
 * 0, or -1 with errno set (and, when strerror cannot say what went wrong,
 * a message set with op_msg()). The dispatcher turns a -1 into an error report
 * carrying the operation's label, so no op function reports by itself.
 */
#ifndef BERTH_INIT_H
#define BERTH_INIT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Operation codes: identical to src/runtime/plan/ops.ts. */
enum {
	OP_END = 0,
	OP_PARENT_MODE = 1,
	OP_OPEN_CONSOLE_SOCKET = 2,
	OP_OPEN_EXEC_FIFO = 3,
	OP_OPEN_SECCOMP_LISTENER = 4,
	OP_SETNS = 5,
	OP_TIMENS_OFFSETS = 6,
	OP_CLONE = 7,
	OP_WRITE_CHILD_FILE = 8,
	OP_CGROUP_ADD_CHILD = 9,
	OP_RUN_CHILD_HELPER = 10,
	OP_RELEASE = 11,
	OP_MORE = 12,
	OP_TAKE_FD = 19,
	OP_UNSHARE = 20,
	OP_SETRESUID = 21,
	OP_SETRESGID = 22,
	OP_SETHOSTNAME = 23,
	OP_SETDOMAINNAME = 24,
	OP_MOUNT = 25,
	OP_SET_ROOT = 26,
	OP_MOUNT_IN_ROOT = 27,
	OP_MKNOD_IN_ROOT = 28,
	OP_SYMLINK_IN_ROOT = 29,
	OP_MKDIR_IN_ROOT = 30,
	OP_MASK_IN_ROOT = 31,
	OP_READONLY_IN_ROOT = 32,
	OP_PIVOT_ROOT = 33,
	OP_MOVE_ROOT = 34,
	OP_WRITE_PROC = 35,
	OP_SYNC = 36,
	OP_HOOK = 37,
	OP_CONSOLE = 38,
	OP_SETSID = 39,
	OP_RLIMIT = 40,
	OP_ACK = 41,
	OP_ABORT = 42,
	OP_PERSONALITY = 43,
	OP_IOPRIO = 44,
	OP_SCHED = 45,
	OP_NO_NEW_PRIVS = 46,
	OP_CAPS_BOUNDING = 47,
	OP_USER = 48,
	OP_CAPS = 49,
	OP_SECCOMP_INIT = 50,
	OP_SECCOMP_ATTR = 51,
	OP_SECCOMP_ARCH = 52,
	OP_SECCOMP_RULE = 53,
	OP_SECCOMP_LOAD = 54,
	OP_CHDIR = 55,
	OP_UMASK = 56,
	OP_WAIT_START = 57,
	OP_EXEC = 58,
	OP_BIND_DEV_IN_ROOT = 59,
	OP_FIND_EXEC = 60,
	OP_WAIT_CGROUPS = 61,
	OP_SESSION_KEYRING = 62,
	OP_MOUNT_SETATTR_IN_ROOT = 63,
	OP_MOUNT_COPYUP_IN_ROOT = 64,
	OP_EXPECT_PROCFS_IN_ROOT = 65,
	OP_CHROOT = 66,
	OP_CHROOT_PROCESS_ROOT = 67,
	OP_NULL_FD = 68,
};

/* Bytes from the first process to the container process on the internal
 * socketpair (README "Processes"). */
#define SYNC_RELEASE	   '1' /* released, and phase 1 is complete */
#define SYNC_RELEASE_EARLY 'r' /* released by RELEASE: its CGROUP_ADD_CHILDs follow */
#define SYNC_JOINED	   'j' /* after SYNC_RELEASE_EARLY: phase 1 is complete */
#define SYNC_HANDOFF	   'h' /* container process to first process (mode exit): handed off */

/* One plan record. `arg` excludes the label; every operand is NUL-terminated
 * (an operand may also contain NULs, hence `len`). */
struct op {
	uint32_t code;
	uint32_t argc;
	const char *label;
	char **arg;
	size_t *len;
};

/* A phase: the records up to (not including) END. */
struct phase {
	struct op *ops;
	size_t n;
};

enum parent_mode { MODE_UNSET = 0, MODE_EXIT, MODE_WAIT, MODE_WAIT_TTY };

/* Process-wide state. Every descriptor here is close-on-exec. */
struct init_state {
	int plan_fd;   /* the runtime's socket: plan in, reports out */
	int exit_code; /* 2 in the first process, 1 in the container process */
	enum parent_mode mode;
	pid_t child;	     /* first process: the container process, 0 before CLONE */
	int released;	     /* first process: the container process has been released */
	int joined;	     /* container process: the first process has finished phase 1 */
	int sync_fd;	     /* internal socketpair end (release, joined, pty master) */
	int console_sock;    /* OPEN_CONSOLE_SOCKET, or -1 */
	int fifo_fd;	     /* OPEN_EXEC_FIFO (O_PATH), or -1 */
	int listener_sock;   /* OPEN_SECCOMP_LISTENER, or -1 */
	int root_fd;	     /* SET_ROOT (O_PATH|O_DIRECTORY), or -1 */
	void *seccomp;	     /* scmp_filter_ctx of SECCOMP_INIT, or NULL */
	dev_t start_uts_dev; /* the UTS namespace berth-init started in (the */
	ino_t start_uts_ino; /* runtime's): SETHOSTNAME is refused there */
	int start_uts_known;
	int proc_fd;	/* the runtime's procfs root (O_PATH), or -1 */
	int handed_off; /* container process: no longer dies with the first process */
};

extern struct init_state g;

/* wire.c: reading the plan and decoding operands. */
int read_phase(int fd, struct phase *out);
void read_exactly(int on);
int op_open_exec_fifo(const struct op *op);
int read_record(int fd, struct op *out);
int need_args(const struct op *op, uint32_t n);
/* Exactly n operands (the variable-length ops, once they know n). */
int exact_args(const struct op *op, uint32_t n);
/* Exactly the operands a fixed-arity op takes; always 0 for the others. */
int check_arity(const struct op *op);

/* takefd.c */
int op_take_fd(const struct op *op);

/* keyring.c */
int op_session_keyring(const struct op *op);
int arg_u64(const struct op *op, uint32_t i, uint64_t *out);
int arg_i64(const struct op *op, uint32_t i, int64_t *out);
int arg_int(const struct op *op, uint32_t i, int *out);
int arg_u32(const struct op *op, uint32_t i, uint32_t *out);
int arg_count(const struct op *op, uint32_t i, uint32_t *out);
/* Operands first..first+n-1 as a NULL-terminated vector (argv, envp): the
 * strings stay the record's, only the vector is allocated. NULL on ENOMEM. */
char **arg_vector(const struct op *op, uint32_t first, uint32_t n);
/* An empty operand where mount(2) takes a pointer means NULL. */
const char *arg_or_null(const struct op *op, uint32_t i);

/* report.c: JSON-line reports on the plan socket. */
void op_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void op_msg_clear(void);
const char *op_msg_get(void);
void report_pid(pid_t pid);
void report_sync(const char *tag);
void report_ready(void);
void report_warn(const char *step, const char *msg);
void report_error(const char *step, int err, const char *msg);
/* Report the failure of `op` (errno and op_msg) and exit with g.exit_code. */
void __attribute__((noreturn)) die_op(const struct op *op, int err);
/* A failure outside any op (the plan itself is unreadable). */
void __attribute__((noreturn)) die_plain(const char *step, int err, const char *msg);

/* process.c: remember the UTS namespace we started in. */
void note_start_uts(void);

/* procfs.c: writes into procfs through the root held since start-up. */
int open_proc_root(void);
/* One write to rel (relative to the procfs root, e.g. "self/oom_score_adj"). */
int write_proc(const char *rel, const void *buf, size_t len);
int op_write_proc(const struct op *op);
int op_expect_procfs_in_root(const struct op *op);

/* selfexe.c */
int ensure_sealed_self(int argc, char **argv);

/* parent.c: phase 1 and the first process's life after it. */
void __attribute__((noreturn)) run_first_process(void);

/* child.c: phase 2. */
void __attribute__((noreturn)) run_container_process(void);
int op_wait_cgroups(const struct op *op);
/* The container process stops dying with the first process (and, in mode
 * exit, lets it go): at WAIT_START, or at EXEC when there is none. */
void hand_off(void);

/* relay.c: PARENT_MODE wait and wait-tty. */
void relay_prepare(void);
void __attribute__((noreturn)) wait_for_child(int with_tty);

/* inroot.c: resolution beneath the SET_ROOT directory. */
struct fdpath {
	char s[32];
};
/* "/proc/self/fd/<fd>", the name under which mount(2) and open(2) reach a
 * handle; NULL (errno EPERM) when /proc is not a procfs. */
const char *fdpath(struct fdpath *p, int fd);
void close_keep_errno(int fd);
/* An O_PATH handle on path beneath the root (dir_only: O_DIRECTORY). */
int resolve(const char *path, int dir_only);
/* Create the missing components of path beneath the root. */
int mkdir_all(const char *path, mode_t dir_mode, mode_t last_mode, int last_is_file);
/* The directory path beneath the root, made if missing, never a symlink. */
int resolve_real_dir(const char *path);
/* Create the parents of path beneath the root; a handle on the parent, and
 * the final name in *name_out. */
int make_parent(const char *path, const char **name_out);

/* rootfs.c */
int op_mount(const struct op *op);
int op_set_root(const struct op *op);
int op_mount_in_root(const struct op *op);
int op_mknod_in_root(const struct op *op);
int op_symlink_in_root(const struct op *op);
int op_mkdir_in_root(const struct op *op);
int op_mask_in_root(const struct op *op);
int op_readonly_in_root(const struct op *op);
int op_mount_setattr_in_root(const struct op *op);
int op_chroot(const struct op *op);
int op_chroot_process_root(const struct op *op);

/* copyup.c */
int op_mount_copyup_in_root(const struct op *op);
int op_bind_dev_in_root(const struct op *op);
int op_pivot_root(const struct op *op);
int op_move_root(const struct op *op);

/* process.c */
int op_unshare(const struct op *op);
int op_null_fd(const struct op *op);
int op_setresuid(const struct op *op);
int op_setresgid(const struct op *op);
int op_sethostname(const struct op *op);
int op_setdomainname(const struct op *op);
int op_setsid(const struct op *op);
int op_rlimit(const struct op *op);
int op_personality(const struct op *op);
int op_ioprio(const struct op *op);
int op_sched(const struct op *op);
int op_no_new_privs(const struct op *op);
int op_caps_bounding(const struct op *op);
int op_user(const struct op *op);
int op_caps(const struct op *op);
int op_chdir(const struct op *op);
int op_umask(const struct op *op);
int op_console(const struct op *op);

/* run.c: programs run by the init (hooks, id-map helpers). */
int op_hook(const struct op *op);
int run_helper(char *const argv[]);

/* seccomp.c */
int op_seccomp_init(const struct op *op);
int op_seccomp_attr(const struct op *op);
int op_seccomp_arch(const struct op *op);
int op_seccomp_rule(const struct op *op);
int op_seccomp_load(const struct op *op);

/* exec.c */
int op_sync(const struct op *op);
int op_wait_start(const struct op *op);
int op_exec(const struct op *op);
int op_find_exec(const struct op *op);
/* Mark every descriptor from lo up close-on-exec (close_range, or one by one
 * where a seccomp profile refuses close_range). */
int cloexec_from(unsigned int lo);

/* util.c */
int write_all(int fd, const void *buf, size_t len);
/* One byte (0..255) from fd; -1 on error, or on EOF with errno EPIPE. */
int read_byte(int fd);
int write_file_once(int dirfd, const char *path, const void *buf, size_t len);
/* One write(2) of exactly len bytes to fd. */
int write_fd_once(int fd, const void *buf, size_t len);
int send_fd(int sock, int fd, const void *body, size_t len);
int recv_fd(int sock, int *fd_out);
int connect_unix(const char *path);
int set_cloexec(int fd, int on);

#endif
