/* The two record formats: dockerd's json-file line and the local driver's
 * length-framed protobuf LogEntry. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "logger.h"

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid:
 * overlong forms, surrogates and code points past U+10FFFF are invalid, as
 * Go's decoder (and so dockerd's JSON) has them. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0], need, min, cp, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		need = 1, min = 0x80, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		need = 2, min = 0x800, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		need = 3, min = 0x10000, cp = c & 0x07;
	else
		return 0;
	if (n < need + 1)
		return 0;
	for (i = 1; i <= need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return need + 1;
}

/* A JSON string as dockerd's json-file writes it: <, > and & escaped for
 * HTML, U+2028/U+2029 escaped, bytes that are not UTF-8 become U+FFFD. */
static void json_string(struct buf *b, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, start = 0;
	char esc[8];

	buf_add(b, "\"", 1);
	while (i < n) {
		unsigned c = u[i];
		const char *rep = NULL;
		size_t len = 1;

		if (c < 0x80) {
			if (c == '"')
				rep = "\\\"";
			else if (c == '\\')
				rep = "\\\\";
			else if (c == '\n')
				rep = "\\n";
			else if (c == '\r')
				rep = "\\r";
			else if (c == '\t')
				rep = "\\t";
			else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
				snprintf(esc, sizeof esc, "\\u%04x", c);
				rep = esc;
			}
		} else {
			len = utf8_len(u + i, n - i);
			if (len == 0) {
				rep = "\\ufffd";
				len = 1;
			} else if (len == 3 && c == 0xe2 && u[i + 1] == 0x80 &&
				   (u[i + 2] & 0xfe) == 0xa8) {
				rep = u[i + 2] == 0xa8 ? "\\u2028" : "\\u2029";
			}
		}
		if (rep) {
			buf_add(b, s + start, i - start);
			buf_add(b, rep, strlen(rep));
			start = i + len;
		}
		i += len;
	}
	buf_add(b, s + start, n - start);
	buf_add(b, "\"", 1);
}

/* {"log":"...","stream":"stdout","time":"2006-01-02T15:04:05.999999999Z"} */
void record_json(struct buf *b, const char *source, const char *p, size_t n,
		 const struct timespec *t)
{
	struct tm tm;
	char tail[96];
	int k;

	gmtime_r(&t->tv_sec, &tm);
	buf_add(b, "{\"log\":", 7);
	json_string(b, p, n);
	k = snprintf(tail, sizeof tail,
		     ",\"stream\":\"%s\",\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ\"}\n",
		     source, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		     tm.tm_sec, t->tv_nsec);
	buf_add(b, tail, (size_t)k);
}

static size_t varint(unsigned char *o, uint64_t v)
{
	size_t i = 0;

	while (v >= 0x80) {
		o[i++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	o[i++] = (unsigned char)v;
	return i;
}

static void be32(unsigned char *o, uint32_t v)
{
	o[0] = (unsigned char)(v >> 24);
	o[1] = (unsigned char)(v >> 16);
	o[2] = (unsigned char)(v >> 8);
	o[3] = (unsigned char)v;
}

/* dockerd's local-driver framing: u32 BE size, a protobuf LogEntry
 * (1 source, 2 time_nano, 3 line, 4 partial), the same u32 again so that a
 * reader can walk the file backwards for `tail`. The line keeps its newline;
 * partial is set on a record without one. */
void record_local(struct buf *b, const char *source, const char *p, size_t n,
		  const struct timespec *t)
{
	unsigned char hdr[64], frame[4];
	size_t h = 0, slen = strlen(source), size;
	bool partial = n == 0 || p[n - 1] != '\n';

	hdr[h++] = 0x0a; /* 1: source, length-delimited */
	h += varint(hdr + h, slen);
	memcpy(hdr + h, source, slen);
	h += slen;
	hdr[h++] = 0x10; /* 2: time_nano, varint */
	h += varint(hdr + h, (uint64_t)t->tv_sec * 1000000000ull + (uint64_t)t->tv_nsec);
	hdr[h++] = 0x1a; /* 3: line, length-delimited */
	h += varint(hdr + h, n);
	size = h + n + (partial ? 2 : 0);
	be32(frame, (uint32_t)size);
	buf_add(b, frame, 4);
	buf_add(b, hdr, h);
	buf_add(b, p, n);
	if (partial)
		buf_add(b, "\x20\x01", 2); /* 4: partial = true */
	buf_add(b, frame, 4);
}
