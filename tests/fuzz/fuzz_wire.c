/*
 * fuzz_wire.c: the reply side of our Redis connection layer
 * (common/redis_wire.c): bytes from the server, valid replies or not,
 * arriving in arbitrary pieces, as TCP and TLS records cut them.
 *
 * The input: a first byte n (0-15), then n piece sizes (1-256 each,
 * used in turn), then the server's bytes. The same bytes are fed once
 * whole and once in those pieces, to two wires each owing the same
 * callbacks; every reply either hands over is written down (type,
 * integer, bytes, elements, recursively).
 *
 * Checks:
 * - both wires hand over the same replies, in the same order, and fail
 *   (a protocol error, a reply nobody asked for) alike;
 * - each callback runs exactly once, in the order queued: with its
 *   reply, or NULL when the wire failed or was freed first; the push
 *   callback only gets replies after every callback had its own;
 * - a callback that frees its wire mid-feed (the one for the 5th
 *   reply) leaves nothing behind for ASan to find.
 */
#include <hiredis/hiredis.h>

#include "buf.h"
#include "redis_wire.h"

#include "fuzz.h"

#define CALLS		32
#define FREE_AT		4	/* this reply's callback frees the wire */
#define DEPTH_MAX	16

struct seen {
	struct wh_buf	 log;		/* what the callbacks saw */
	int		 calls[CALLS];	/* times each callback ran */
	int		 next;		/* the callback expected next */
	int		 free_mid;	/* free the wire at FREE_AT */
	int		 freed;		/* a callback did */
	struct wh_wire	*w;
};

struct slot {
	struct seen	*s;
	int		 i;
};

static void
note(struct wh_buf *b, const redisReply *r, int depth)
{
	size_t	i;

	FUZZ_CHECK(depth < DEPTH_MAX);
	(void)wh_buf_appendf(b, "[%d %lld %zu:", r->type, r->integer,
	    r->str != NULL ? r->len : 0);
	if (r->str != NULL)
		(void)wh_buf_append(b, r->str, r->len);
	if (r->type == REDIS_REPLY_ARRAY) {
		for (i = 0; i < r->elements; i++)
			note(b, r->element[i], depth + 1);
	}
	(void)wh_buf_appendstr(b, "]");
}

static void
on_reply(struct wh_wire *w, void *reply, void *priv)
{
	struct slot	*sl = priv;
	struct seen	*s = sl->s;

	FUZZ_CHECK(w == s->w);
	FUZZ_CHECK(s->calls[sl->i]++ == 0);
	FUZZ_CHECK(sl->i == s->next);
	s->next++;
	if (reply == NULL) {
		(void)wh_buf_appendstr(&s->log, "NULL");
		return;
	}
	note(&s->log, reply, 0);
	if (s->free_mid && sl->i == FREE_AT) {
		s->freed = 1;
		wh_wire_free(w);
	}
}

static void
on_push(struct wh_wire *w, void *reply, void *priv)
{
	struct seen	*s = priv;

	/* Only replies nobody waits for: every callback had its own. */
	FUZZ_CHECK(reply != NULL && s->next == CALLS);
	(void)wh_buf_appendstr(&s->log, "P");
	note(&s->log, reply, 0);
}

/* Feed data to a new wire in pieces (sizes NULL: whole); the log. */
static int
run(struct seen *s, struct slot *slots, const uint8_t *data, size_t size,
    const uint8_t *sizes, size_t nsizes, int push)
{
	const char	*argv[1] = { "PING" };
	size_t		 off = 0, n, k = 0;
	int		 i, failed = 0;

	memset(s->calls, 0, sizeof(s->calls));
	s->next = 0;
	s->freed = 0;
	wh_buf_init(&s->log, 0);
	if ((s->w = wh_wire_new()) == NULL)
		return (-1);
	if (push)
		wh_wire_on_push(s->w, on_push, s);
	for (i = 0; i < CALLS; i++) {
		slots[i].s = s;
		slots[i].i = i;
		FUZZ_CHECK(wh_wire_command(s->w, on_reply, &slots[i], 1, argv,
		    NULL) == 0);
	}
	while (off < size) {
		n = nsizes == 0 ? size - off : (size_t)sizes[k++ % nsizes] + 1;
		if (n > size - off)
			n = size - off;
		if (wh_wire_feed(s->w, (const char *)data + off, n) == -1) {
			failed = 1;
			break;
		}
		off += n;
	}
	/* Freed by a callback: the callbacks owed already got NULL. */
	if (!s->freed)
		wh_wire_free(s->w);
	for (i = 0; i < CALLS; i++)
		FUZZ_CHECK(s->calls[i] == 1);
	return (failed);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen	 whole, cut;
	struct slot	 sw[CALLS], sc[CALLS];
	const uint8_t	*sizes;
	size_t		 nsizes;
	int		 fw, fc, push;

	if (size < 1)
		return (0);
	nsizes = data[0] & 0x0f;
	push = (data[0] & 0x10) != 0;
	if (size < 1 + nsizes)
		return (0);
	sizes = data + 1;
	data += 1 + nsizes;
	size -= 1 + nsizes;

	memset(&whole, 0, sizeof(whole));
	memset(&cut, 0, sizeof(cut));
	whole.free_mid = cut.free_mid = (nsizes & 1) != 0;
	fw = run(&whole, sw, data, size, NULL, 0, push);
	fc = run(&cut, sc, data, size, sizes, nsizes, push);
	if (fw >= 0 && fc >= 0) {
		FUZZ_CHECK(fw == fc);
		FUZZ_CHECK(whole.log.len == cut.log.len);
		FUZZ_CHECK(whole.log.len == 0 ||
		    memcmp(whole.log.data, cut.log.data, whole.log.len) == 0);
	}
	wh_buf_free(&whole.log);
	wh_buf_free(&cut.log);
	return (0);
}
