/*
 * cluster_map.c: hash slots, routing keys, redirect errors and the slot
 * map of a Redis Cluster (see cluster_map.h). Everything read here comes
 * from a server or a caller and is bounded before it is used.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cluster_map.h"

/* Commands that carry no key: any master may run them. */
static const char	*const keyless[] = {
	"ASKING", "AUTH", "CLIENT", "CLUSTER", "COMMAND", "CONFIG", "DBSIZE",
	"ECHO", "FUNCTION", "HELLO", "INFO", "PING", "PUBLISH", "READONLY",
	"ROLE", "SCRIPT", "SELECT", "TIME", "WAIT"
};

/* Containers of subcommands: <command> <subcommand> <key> ... */
static const char	*const subcommanded[] = {
	"MEMORY", "OBJECT", "XGROUP", "XINFO"
};

/* Scripts: EVAL <script> <numkeys> <key>... */
static const char	*const scripted[] = {
	"EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO"
};

/*
 * CRC16-CCITT (XMODEM: polynomial 0x1021, initial 0, no reflection), the
 * checksum Redis Cluster hashes keys with. Bit by bit: keys are short.
 */
static unsigned
crc16(const unsigned char *p, size_t len)
{
	unsigned	crc = 0;
	size_t		i;
	int		bit;

	for (i = 0; i < len; i++) {
		crc ^= (unsigned)p[i] << 8;
		for (bit = 0; bit < 8; bit++)
			crc = (crc & 0x8000) ? (crc << 1) ^ 0x1021 : crc << 1;
		crc &= 0xffff;
	}
	return (crc);
}

/*
 * Only what lies between the first '{' and the first '}' after it is
 * hashed, when that is not empty, so that keys sharing a tag share a
 * slot (the rule of the Redis Cluster specification).
 */
unsigned
wh_key_slot(const char *key, size_t len)
{
	const char	*open, *close;

	open = memchr(key, '{', len);
	if (open != NULL) {
		close = memchr(open + 1, '}', len - (size_t)(open + 1 - key));
		if (close != NULL && close > open + 1)
			return (crc16((const unsigned char *)open + 1,
			    (size_t)(close - open - 1)) % WH_CLUSTER_SLOTS);
	}
	return (crc16((const unsigned char *)key, len) % WH_CLUSTER_SLOTS);
}

static size_t
arg_len(const char **argv, const size_t *lens, int i)
{
	return (lens != NULL ? lens[i] : strlen(argv[i]));
}

/* argv[i] is word, in any case (argv[i] need not end in a NUL). */
static int
arg_is(const char **argv, const size_t *lens, int i, const char *word)
{
	size_t	n = strlen(word);

	return (arg_len(argv, lens, i) == n &&
	    strncasecmp(argv[i], word, n) == 0);
}

static int
arg_in(const char **argv, const size_t *lens, const char *const *words,
    size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (arg_is(argv, lens, 0, words[i]))
			return (1);
	return (0);
}

/* A script's numkeys: > 0 means argv[3] is its first key. */
static int
script_has_keys(const char **argv, const size_t *lens)
{
	size_t	i, n = arg_len(argv, lens, 2);

	if (n == 0 || n > 9)
		return (0);
	for (i = 0; i < n; i++)
		if (argv[2][i] < '0' || argv[2][i] > '9')
			return (0);
	for (i = 0; i < n; i++)
		if (argv[2][i] != '0')
			return (1);
	return (0);
}

int
wh_command_key(int argc, const char **argv, const size_t *lens)
{
	int	i;

	if (argc < 2 || arg_in(argv, lens, keyless,
	    sizeof(keyless) / sizeof(keyless[0])))
		return (-1);
	if (arg_in(argv, lens, scripted,
	    sizeof(scripted) / sizeof(scripted[0])))
		return (argc >= 4 && script_has_keys(argv, lens) ? 3 : -1);
	if (arg_in(argv, lens, subcommanded,
	    sizeof(subcommanded) / sizeof(subcommanded[0])))
		return (argc >= 3 ? 2 : -1);
	if (arg_is(argv, lens, 0, "XREAD") ||
	    arg_is(argv, lens, 0, "XREADGROUP")) {
		for (i = 1; i < argc - 1; i++)
			if (arg_is(argv, lens, i, "STREAMS"))
				return (i + 1);
		return (-1);
	}
	return (1);
}

/* Digits at *p (at most max), advancing it; -1 if none or too big. */
static long
read_number(const char **p, const char *end, long max)
{
	long	v = 0;
	int	n = 0;

	while (*p < end && **p >= '0' && **p <= '9') {
		v = v * 10 + (**p - '0');
		if (v > max)
			return (-1);
		(*p)++;
		n++;
	}
	return (n == 0 ? -1 : v);
}

/*
 * "<slot> <host>:<port>" after MOVED or ASK. The port follows the last
 * ':' (an IPv6 host has several, bare or in brackets); an empty host or
 * "?" means the node that answered.
 */
static int
read_target(const char *p, const char *end, struct wh_redirect *r)
{
	const char	*colon, *h, *he;
	long		 v;
	size_t		 n;

	if ((v = read_number(&p, end, WH_CLUSTER_SLOTS - 1)) == -1 ||
	    p >= end || *p != ' ')
		return (-1);
	r->slot = (unsigned)v;
	h = ++p;
	for (colon = NULL; p < end && *p != ' '; p++)
		if (*p == ':')
			colon = p;
	if (colon == NULL)
		return (-1);
	he = colon;
	p = colon + 1;
	if ((v = read_number(&p, end, 65535)) < 1 ||
	    (p < end && *p != ' '))
		return (-1);
	r->port = (int)v;
	if (he - h >= 2 && *h == '[' && he[-1] == ']') {
		h++;
		he--;
	}
	n = (size_t)(he - h);
	if (n == 1 && *h == '?')
		n = 0;
	if (n >= sizeof(r->host))
		return (-1);
	for (p = h; p < he; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == '[' ||
		    *p == ']')
			return (-1);
	memcpy(r->host, h, n);
	r->host[n] = '\0';
	return (0);
}

static int
word_is(const char *err, size_t len, const char *word)
{
	size_t	n = strlen(word);

	return (len >= n && memcmp(err, word, n) == 0 &&
	    (len == n || err[n] == ' '));
}

int
wh_cluster_redirect(const char *err, size_t len, struct wh_redirect *r)
{
	const char	*end = err + len;

	memset(r, 0, sizeof(*r));
	if (word_is(err, len, "TRYAGAIN"))
		return (r->kind = WH_REDIR_TRYAGAIN);
	if (word_is(err, len, "CLUSTERDOWN"))
		return (r->kind = WH_REDIR_DOWN);
	if (word_is(err, len, "MOVED") && len > 6 &&
	    read_target(err + 6, end, r) == 0)
		return (r->kind = WH_REDIR_MOVED);
	if (word_is(err, len, "ASK") && len > 4 &&
	    read_target(err + 4, end, r) == 0)
		return (r->kind = WH_REDIR_ASK);
	memset(r, 0, sizeof(*r));
	return (WH_REDIR_NONE);
}

static int
map_err(char *err, size_t errlen, const char *why)
{
	(void)snprintf(err, errlen, "CLUSTER SLOTS: %s", why);
	return (-1);
}

/* The index of host:port in m, added if new; -1 when m is full. */
static int
node_index(struct wh_slot_map *m, const char *host, int port)
{
	size_t	i;

	for (i = 0; i < m->nnodes; i++)
		if (m->nodes[i].port == port &&
		    strcmp(m->nodes[i].host, host) == 0)
			return ((int)i);
	if (m->nnodes == WH_CLUSTER_NODES_MAX)
		return (-1);
	(void)snprintf(m->nodes[m->nnodes].host,
	    sizeof(m->nodes[m->nnodes].host), "%s", host);
	m->nodes[m->nnodes].port = port;
	return ((int)m->nnodes++);
}

/* A master's endpoint, [host, port, ...]: its index in m. */
static int
range_master(const redisReply *e, const char *from_host,
    struct wh_slot_map *m, char *err, size_t errlen)
{
	const redisReply	*h, *p;
	const char		*host;
	size_t			 i;
	int			 idx;

	if (e->type != REDIS_REPLY_ARRAY || e->elements < 2)
		return (map_err(err, errlen, "a master without an endpoint"));
	h = e->element[0];
	p = e->element[1];
	if (h->type != REDIS_REPLY_STRING || p->type != REDIS_REPLY_INTEGER ||
	    p->integer < 1 || p->integer > 65535 || h->len >= WH_HOST_MAX)
		return (map_err(err, errlen, "a malformed master endpoint"));
	for (i = 0; i < h->len; i++)
		if ((unsigned char)h->str[i] <= ' ' || h->str[i] == 0x7f)
			return (map_err(err, errlen, "a malformed host"));
	host = h->str;
	if (h->len == 0 || strcmp(host, "?") == 0)
		host = from_host;
	if ((idx = node_index(m, host, (int)p->integer)) == -1)
		return (map_err(err, errlen, "more masters than we keep"));
	return (idx);
}

int
wh_slot_map_parse(const redisReply *reply, const char *from_host,
    struct wh_slot_map *m, char *err, size_t errlen)
{
	const redisReply	*e;
	size_t			 i;
	long long		 s;
	int			 idx;

	memset(m->node, 0xff, sizeof(m->node));
	m->nnodes = 0;
	if (reply == NULL || reply->type != REDIS_REPLY_ARRAY)
		return (map_err(err, errlen, "not an array"));
	for (i = 0; i < reply->elements; i++) {
		e = reply->element[i];
		if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
		    e->element[0]->type != REDIS_REPLY_INTEGER ||
		    e->element[1]->type != REDIS_REPLY_INTEGER ||
		    e->element[0]->integer < 0 ||
		    e->element[1]->integer >= WH_CLUSTER_SLOTS ||
		    e->element[0]->integer > e->element[1]->integer)
			return (map_err(err, errlen, "a malformed slot range"));
		if ((idx = range_master(e->element[2], from_host, m, err,
		    errlen)) == -1)
			return (-1);
		for (s = e->element[0]->integer; s <= e->element[1]->integer;
		    s++)
			m->node[s] = (uint16_t)idx;
	}
	return (0);
}

/* The next space-separated field of [*p, end) of one line, or NULL. */
static const char *
next_field(const char **p, const char *end, size_t *flen)
{
	const char	*f;

	while (*p < end && **p == ' ')
		(*p)++;
	if (*p >= end)
		return (NULL);
	f = *p;
	while (*p < end && **p != ' ')
		(*p)++;
	*flen = (size_t)(*p - f);
	return (f);
}

/* Whether a field of flags ("myself,master") holds flag. */
static int
has_flag(const char *f, size_t flen, const char *flag)
{
	size_t	n = strlen(flag), i = 0, j;

	while (i < flen) {
		for (j = i; j < flen && f[j] != ','; j++)
			;
		if (j - i == n && memcmp(f + i, flag, n) == 0)
			return (1);
		i = j + 1;
	}
	return (0);
}

/*
 * One slot field of myself's line: "a", "a-b", "[a->-id]" (migrating
 * away) or "[a-<-id]" (importing). 1 served, 2 migrating away, 0 other.
 */
static int
slot_field(const char *f, size_t flen, unsigned slot)
{
	const char	*p = f, *end = f + flen;
	long		 a, b;

	if (p < end && *p == '[') {
		p++;
		if ((a = read_number(&p, end, WH_CLUSTER_SLOTS - 1)) == -1)
			return (0);
		return ((unsigned long)a == slot && end - p >= 3 &&
		    memcmp(p, "->-", 3) == 0 ? 2 : 0);
	}
	if ((a = read_number(&p, end, WH_CLUSTER_SLOTS - 1)) == -1)
		return (0);
	b = a;
	if (p < end && *p == '-') {
		p++;
		if ((b = read_number(&p, end, WH_CLUSTER_SLOTS - 1)) == -1)
			return (0);
	}
	if (p != end)
		return (0);
	return ((unsigned long)a <= slot && slot <= (unsigned long)b ? 1 : 0);
}

int
wh_cluster_nodes_serves(const char *text, size_t len, unsigned slot)
{
	const char	*line = text, *end = text + len, *eol, *p, *f;
	size_t		 flen;
	int		 i, served, k;

	for (; line < end; line = eol + 1) {
		if ((eol = memchr(line, '\n', (size_t)(end - line))) == NULL)
			eol = end;
		p = line;
		/* id, ip:port@cport[,hostname], flags */
		for (i = 0; i < 3; i++)
			if ((f = next_field(&p, eol, &flen)) == NULL)
				break;
		if (i < 3 || !has_flag(f, flen, "myself"))
			continue;
		if (!has_flag(f, flen, "master"))
			return (0);
		/* master, ping-sent, pong-recv, config-epoch, link-state */
		for (i = 0; i < 5; i++)
			if (next_field(&p, eol, &flen) == NULL)
				return (0);
		served = 0;
		while ((f = next_field(&p, eol, &flen)) != NULL) {
			/* A trailing '\r' of a CRLF line is not a slot's. */
			if (flen > 0 && f[flen - 1] == '\r')
				flen--;
			if ((k = slot_field(f, flen, slot)) == 2)
				return (0);
			if (k == 1)
				served = 1;
		}
		return (served);
	}
	return (-1);
}
