/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Drives bpf/redis/resp.h over a whole buffer in chunks of a chosen size, the way
 * the BPF programs do, and records what it reported. Shared by the unit test
 * and the fuzz target. */
#ifndef RESP_DRIVE_H
#define RESP_DRIVE_H

#include <stdio.h>
#include <string.h>
#include "redis/resp.h"

struct resp_log {
	char text[8192];
	size_t len;
	int bad;
};

static void resp_log_add(struct resp_log *l, const char *tag, const char *s,
			 size_t n)
{
	int w;

	if (l->len >= sizeof(l->text) - 1)
		return;
	w = snprintf(l->text + l->len, sizeof(l->text) - l->len, "%s:%.*s|",
		     tag, (int)n, s);
	if (w > 0)
		l->len += (size_t)w < sizeof(l->text) - l->len ?
			  (size_t)w : sizeof(l->text) - l->len - 1;
}

/* Requests: "CMD:key:ARG|" per request, "BAD|" when the scanner gives up. */
static void resp_drive_req(const unsigned char *buf, size_t len, size_t chunk,
			   struct resp_log *l)
{
	struct resp_req r;
	size_t off = 0;
	char one[RESP_CMD_MAX + RESP_KEY_MAX + RESP_ARG_MAX + 8];

	resp_req_reset(&r);
	memset(l, 0, sizeof(*l));
	while (off < len) {
		struct resp_buf c = { 0 };
		__u32 n = len - off < chunk ? len - off : chunk;

		memcpy(c.data, buf + off, n);
		c.len = n;
		while (c.pos < n) {
			int ev = resp_req_feed_buf(&r, &c);

			if (ev == RESP_BAD) {
				resp_log_add(l, "BAD", "", 0);
				l->bad = 1;
				return;
			}
			if (ev != RESP_DONE)
				continue;
			snprintf(one, sizeof(one), "%.*s:%.*s:%.*s:%u",
				 r.cmd_len, r.cmd, r.key_len, r.key,
				 r.arg_len, r.arg, r.argc);
			resp_log_add(l, "REQ", one, strlen(one));
			resp_req_reset(&r);
		}
		off += n;
	}
}

/* Replies: "R<type>|" per reply, "P|" per push, "K:key|" per invalidated key,
 * "ALL|" for a null invalidation, "B<len>|" when a top-level bulk starts. */
static void resp_drive_rep(const unsigned char *buf, size_t len, size_t chunk,
			   struct resp_log *l)
{
	struct resp_rep p;
	size_t off = 0;
	char t[16];

	resp_rep_reset(&p);
	memset(l, 0, sizeof(*l));
	while (off < len) {
		struct resp_buf c = { 0 };
		__u32 n = len - off < chunk ? len - off : chunk;

		memcpy(c.data, buf + off, n);
		c.len = n;
		for (;;) {
			int ev = resp_rep_feed_buf(&p, &c);

			if (ev == RESP_MORE)
				break;
			switch (ev) {
			case RESP_BAD:
				resp_log_add(l, "BAD", "", 0);
				l->bad = 1;
				return;
			case RESP_DONE:
				t[0] = p.top == '>' ? 'P' : 'R';
				t[1] = p.top == '>' ? 0 : p.top;
				t[2] = 0;
				resp_log_add(l, t, "", 0);
				break;
			case RESP_BULK:
				snprintf(t, sizeof(t), "B%d", (int)p.top_len);
				resp_log_add(l, t, "", 0);
				break;
			case RESP_INV_KEY:
				resp_log_add(l, "K", p.cap, p.cap_len);
				break;
			case RESP_INV_ALL:
				resp_log_add(l, "ALL", "", 0);
				break;
			}
		}
		off += n;
	}
}

#endif
