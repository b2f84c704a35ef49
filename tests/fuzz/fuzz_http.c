/*
 * fuzz_http.c: the HTTP framing decision our Kore patch makes
 * (api/kore/http_frame.c, called by http_header_recv()) on any bytes and
 * any split of them into reads.
 *
 * The input is: one byte choosing the header buffer's size, one the most
 * lines a head may have, four seeding the sizes of the reads, then the
 * bytes a client sends on one connection. The target plays the patched
 * Kore's reading: heads are read into a buffer of that size and parsed
 * after every read; a body is read to its Content-Length and no further;
 * the bytes after a request start the next one. This is done twice, once
 * with every read as large as it can be and once with the fuzzed sizes.
 *
 * Checks, beyond memory safety (the parser only ever sees a copy exactly
 * as long as what was read, so a read past it is an ASan report):
 * - what is consumed never exceeds what is there: head_len + body_now +
 *   leftover == available, body_now <= Content-Length, and nothing is
 *   left over while body bytes are still missing;
 * - the requests found (where each starts in the stream, its head length,
 *   Content-Length and the answer) are the same whatever the split.
 */
#include "kore/http_frame.h"

#include "fuzz.h"

#define FUZZ_HTTP_REQS		64
#define FUZZ_HTTP_BODY_READ	8192	/* NETBUF_SEND_PAYLOAD_MAX */

struct fuzz_req {
	size_t		start;		/* offset in the stream */
	int		rc;		/* HTTP_FRAME_DONE or a status */
	size_t		head_len;
	uint64_t	length;
};

struct fuzz_run {
	struct fuzz_req	req[FUZZ_HTTP_REQS];
	size_t		n;
	size_t		consumed;	/* stream bytes accounted for */
};

/* The size of the next read: as large as allowed, or a fuzzed size. */
static size_t
next_read(uint32_t *seed, size_t room)
{
	uint32_t	r;
	size_t		want;

	if (seed == NULL)
		return (room);
	*seed = *seed * 1103515245u + 12345u;
	r = *seed >> 8;
	want = 1 + (size_t)(r % (1u << (r % 14)));
	return (want < room ? want : room);
}

/* Parse exactly have bytes, from a copy of their own. */
static int
parse(const uint8_t *buf, size_t have, size_t cap, size_t lines,
    struct http_frame *f)
{
	uint8_t	*copy;
	int	 rc;

	if ((copy = malloc(have > 0 ? have : 1)) == NULL)
		abort();
	if (have > 0)
		memcpy(copy, buf, have);
	rc = http_frame_parse(copy, have, cap, lines, f);
	free(copy);
	return (rc);
}

static void
check_frame(const struct http_frame *f, size_t have)
{
	FUZZ_CHECK(f->head_len > 0 && f->head_len <= have);
	FUZZ_CHECK(f->head_text < f->head_len);
	FUZZ_CHECK(f->head_len + f->body_now + f->leftover == have);
	FUZZ_CHECK((uint64_t)f->body_now <= f->length);
	FUZZ_CHECK((uint64_t)f->body_now + f->body_left == f->length);
	FUZZ_CHECK(f->body_left == 0 || f->leftover == 0);
	FUZZ_CHECK(!f->has_te || !f->has_length);
	FUZZ_CHECK(f->has_length || f->length == 0);
}

/*
 * One connection's reading, as the patched Kore does it. seed NULL:
 * every read as large as the buffer and the stream allow.
 */
static void
run(const uint8_t *s, size_t n, size_t cap, size_t lines, uint32_t *seed,
    struct fuzz_run *out)
{
	struct http_frame	 f;
	uint8_t			*buf;
	size_t			 have, pos, start, k;
	uint64_t		 left;
	int			 rc;

	memset(out, 0, sizeof(*out));
	if ((buf = malloc(cap)) == NULL)
		abort();
	have = 0;
	pos = 0;
	start = 0;
	while (out->n < FUZZ_HTTP_REQS) {
		rc = parse(buf, have, cap, lines, &f);
		if (rc == HTTP_FRAME_MORE) {
			FUZZ_CHECK(have < cap);
			if (pos == n)
				break;
			k = next_read(seed, cap - have);
			if (k > n - pos)
				k = n - pos;
			memcpy(buf + have, s + pos, k);
			have += k;
			pos += k;
			continue;
		}
		out->req[out->n].start = start;
		out->req[out->n].rc = rc;
		out->n++;
		if (rc != HTTP_FRAME_DONE) {
			FUZZ_CHECK(rc == 400 || rc == 413 || rc == 431);
			break;	/* answered, then the connection is closed */
		}
		check_frame(&f, have);
		out->req[out->n - 1].head_len = f.head_len;
		out->req[out->n - 1].length = f.length;

		/* The rest of the body, never a byte more. */
		for (left = f.body_left; left > 0 && pos < n; left -= k) {
			k = next_read(seed, left < FUZZ_HTTP_BODY_READ ?
			    (size_t)left : FUZZ_HTTP_BODY_READ);
			if (k > n - pos)
				k = n - pos;
			pos += k;
		}
		if (left > 0)
			break;
		start = pos - f.leftover;
		FUZZ_CHECK(start == out->req[out->n - 1].start + f.head_len +
		    f.length);
		memmove(buf, buf + f.head_len + f.body_now, f.leftover);
		have = f.leftover;
	}
	out->consumed = pos;
	FUZZ_CHECK(pos <= n);
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz_run	whole, split;
	size_t			cap, lines, i;
	uint32_t		seed;

	if (size < 6)
		return (0);
	cap = 64 + (size_t)(data[0] % 128) * 64;
	lines = 1 + (size_t)(data[1] % 32);
	seed = (uint32_t)data[2] | (uint32_t)data[3] << 8 |
	    (uint32_t)data[4] << 16 | (uint32_t)data[5] << 24;
	data += 6;
	size -= 6;

	run(data, size, cap, lines, NULL, &whole);
	run(data, size, cap, lines, &seed, &split);
	FUZZ_CHECK(whole.n == split.n);
	for (i = 0; i < whole.n; i++) {
		FUZZ_CHECK(whole.req[i].start == split.req[i].start);
		FUZZ_CHECK(whole.req[i].rc == split.req[i].rc);
		FUZZ_CHECK(whole.req[i].head_len == split.req[i].head_len);
		FUZZ_CHECK(whole.req[i].length == split.req[i].length);
	}
	return (0);
}
