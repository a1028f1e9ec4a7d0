/*
 * berth-logger's shared state. The contract (arguments, descriptors, file
 * formats, the attach socket) is native/README.md, section berth-logger.
 */
#ifndef BERTH_LOGGER_H
#define BERTH_LOGGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define LINE_MAX_BYTES (16 * 1024) /* dockerd cuts longer lines into partial records */
#define READ_CHUNK     (32 * 1024)

enum driver { DRIVER_NONE, DRIVER_JSON, DRIVER_LOCAL };

/* The log on disk: the current file and its rotated predecessors. */
struct logfile {
	enum driver driver;
	const char *path;
	long long max_size; /* bytes per file before rotation; 0: never */
	int max_file;	    /* files kept, the current one included */
	bool compress;	    /* rotated files gzip'ed to <path>.N.gz */
	int fd;
	long long size;
	pid_t gzip_pid; /* a compression under way, 0 when none */
	char gzip_src[4160];
};

/* One output stream's unfinished line. */
struct line {
	const char *source; /* "stdout"/"stderr" */
	char buf[LINE_MAX_BYTES];
	size_t len;
};

/* util */
void warnmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
struct buf {
	char *p;
	size_t len, cap, off;
};
void buf_add(struct buf *b, const void *p, size_t n);
void buf_clear(struct buf *b);

/* record.c: one record in the driver's format, appended to b */
void record_json(struct buf *b, const char *source, const char *p, size_t n,
		 const struct timespec *t);
void record_local(struct buf *b, const char *source, const char *p, size_t n,
		  const struct timespec *t);

/* attach.c */
#define MAX_ATTACH 32
struct pollfd;
int attach_listen(const char *path); /* the listening socket, -1 (warned) on failure */
void attach_accept(int lfd);
void attach_send(int stream, const char *p, size_t n);
bool attach_backlogged(void);
int attach_pollfds(struct pollfd *p); /* one entry per client; returns how many */
void attach_serviced(const struct pollfd *p);
void attach_flush_all(void);
void attach_end(int lfd);

/* file.c */
int logfile_open(struct logfile *f);
void logfile_write(struct logfile *f, const char *source, const char *p, size_t n);
void logfile_reaped(struct logfile *f, pid_t pid, int status);
void logfile_finish(struct logfile *f);

/* lines: complete lines become records at once, a line over LINE_MAX_BYTES
 * is cut, the rest of a stream at its end is a record of its own */
void line_feed(struct logfile *f, struct line *l, const char *p, size_t n);
void line_flush(struct logfile *f, struct line *l);

#endif
