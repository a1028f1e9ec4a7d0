/*
 * berth-shim's shared state and the functions its files give each other.
 * The contract (start-up, control protocol, exit files, log records) is
 * native/README.md, section berth-shim.
 */
#ifndef BERTH_SHIM_H
#define BERTH_SHIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define SHIM_NAME_MAX 128
#define SHIM_REQ_MAX  (64 * 1024) /* one request record, all operands */
#define SHIM_ARGS_MAX 512
#define SHIM_BUF      16384 /* bytes in flight per stream */
#define SHIM_DRAIN_MS 500   /* output still copied after an exit before `wait` answers anyway */

/* One direction of copying: src is read when dst (and the log) took the
 * previous chunk; a full FIFO stops reading, never drops bytes. */
struct stream {
	int src;	 /* -1 once closed */
	int dst;	 /* -1: no destination (the bytes go to the log only) */
	const char *tag; /* "stdout"/"stderr" in log records, NULL: no log */
	char *buf;	 /* allocated at the first read */
	size_t len, off; /* pending bytes: buf[off..len) */
	char *line;	 /* the log's unfinished line */
	size_t line_len;
	bool done;	/* src at EOF and everything written */
	bool close_dst; /* dst is ours to close when done */
	bool eof_asked; /* closestdin: close src once nothing more is there to read */
};

struct proc {
	struct proc *next;
	char name[SHIM_NAME_MAX + 1];
	pid_t spawned;	  /* the program the shim ran (berth-init's first process, runc) */
	int spawn_status; /* -1 while it runs */
	pid_t pid;	  /* the container process, once registered; 0 before */
	bool exited;
	int status; /* 0-255, 128+N for signal N */
	struct timespec exited_at;
	struct timespec drain_deadline; /* monotonic */
	struct stream in, out, err;
	int master;		   /* pty master, -1 without a terminal (or not yet received) */
	unsigned short rows, cols; /* a resize that came before the master: applied when it does */
	int console_listen;	   /* listening console socket until its one connection */
	int console_conn;	   /* that connection, until the master arrives on it */
	char console_path[108];
	int log_fd; /* -1: no log */
	/* A writer of our own on the stdin FIFO, as containerd's shim holds:
	 * a client that goes away (berthd killed) is no EOF; closestdin closes it. */
	int in_hold;
	int spawn_conn;	 /* "wait" mode: the connection told when `spawned` exits */
	bool unattached; /* "spare" mode: stdio pipes made, no FIFO named yet (`attach`) */
};

struct conn {
	struct conn *next;
	int fd;
	char *buf;
	size_t len, cap;
	char waiting[SHIM_NAME_MAX + 1]; /* answers `wait` for this process when set */
	bool waiting_spawn;		 /* ... `waitspawn`: for its spawned program */
	bool dead;
	bool hold; /* `hold`: a spare shim's tie to its engine */
	/* `oom`: a watch of a cgroup's OOM kill counter, answered once it passes oom_seen */
	char oom_file[512]; /* empty: no watch */
	long oom_seen;
	int oom_fd;  /* the eventfd (v1) or inotify descriptor (v2), -1 without */
	int oom_ctl; /* v1: memory.oom_control, open while the eventfd is registered */
	struct timespec oom_recheck_until; /* monotonic; tv_sec 0: no re-reading */
};

struct shim {
	const char *dir;
	int dir_fd;
	int listen_fd;
	int sig_fd;
	struct proc *procs;
	struct conn *conns;
	bool quit;
	bool durable; /* fsync the files it writes (not with --no-fsync) */
	/* A spare: started ahead of need and held by its engine's `hold`
	 * connection until `claim`; it ends itself when that connection closes
	 * unclaimed (the engine stopped or died), so no spare outlives its engine. */
	bool held;
	bool spare_gone; /* ended as an unclaimed spare: its directory goes too */
};

extern struct shim S;

/* util.c */
void logmsg(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
struct sbuf {
	char *p;
	size_t len, cap;
};
void sb_add(struct sbuf *b, const char *s, size_t n);
void sb_str(struct sbuf *b, const char *s);
void sb_fmt(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_json(struct sbuf *b, const char *s, size_t n); /* a quoted JSON string */
int write_all(int fd, const char *p, size_t n);
int write_file_atomic(int dir_fd, const char *name, const char *data, size_t n);
bool valid_name(const char *s);
void set_nonblock(int fd);
long ms_until(const struct timespec *deadline);

/* proc.c */
struct proc *proc_find(const char *name);
struct proc *proc_by_pid(pid_t pid);
int proc_spawn(struct conn *c, char **args, int argc);
int proc_attach(struct conn *c, struct proc *p, const char *in, const char *out, const char *err);
void proc_reap(void);
void proc_free(struct proc *p);
bool proc_drained(struct proc *p);
void proc_register(struct proc *p, pid_t pid);

/* io.c */
void stream_init(struct stream *s);
int stream_events(struct stream *s);
void stream_service(struct proc *p, struct stream *s, short revents);
void stream_close(struct stream *s);
void console_accept(struct proc *p);
void console_receive(struct proc *p);

/* logio.c: file:// and binary:// stdout URIs */
bool logio_is_uri(const char *s);
int logio_open(struct proc *p, const char *uri, bool tty, int fds[2]);
int logio_attach(struct proc *p, const char *uri);

/* proto.c */
void conn_accept(void);
void conn_service(struct conn *c);
void conn_process(struct conn *c); /* runs the requests already read (after a wait ends) */
void conn_reply(struct conn *c, const char *json);
void conn_error(struct conn *c, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void waiters_notify(void);

/* mnt.c */
void mnt_mount(struct conn *c, const char *source, const char *target, const char *fstype,
	       long flags, const char *data);
void mnt_umount(struct conn *c, const char *target);

/* oom.c */
void oom_watch(struct conn *c, const char *file, long seen);
void oom_service(struct conn *c);
void oom_recheck(void);
int oom_timeout(void);
void oom_close(struct conn *c);

#endif
