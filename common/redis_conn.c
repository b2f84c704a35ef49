/*
 * redis_conn.c: the life of one asynchronous Redis connection (see
 * redis_conn.h): down, asking a sentinel, connecting, up; and back down
 * when the link drops, a timeout passes or the server turns out to be a
 * replica.
 *
 * Every step that opens a new wire (common/redis_wire.c) runs from the
 * connection's timer, never from inside a callback of the old wire, so
 * that the old one has been freed (and its socket taken out of the loop)
 * first. A wire this file gave up on still calls back (with NULL) while
 * it is freed; callbacks compare the wire with c->wire and ignore stale
 * ones.
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "redis_conn.h"
#include "redis_link.h"
#include "scripts.h"
#include "timeutil.h"

#define BACKOFF_MIN_MS		100
#define BACKOFF_MAX_MS		5000
/* A sentinel has this long to accept the connection and answer. */
#define ASK_TIMEOUT_MS		1000
/* A server has this long to accept the connection. */
#define CONNECT_TIMEOUT_MS	3000
/* A link up this long before it dropped starts the backoff afresh. */
#define STABLE_MS		1000
#define SWITCH_CHANNEL		"+switch-master"

static void	conn_open(struct wh_conn *);

/* hiredis' own reply builders, wrapped to see every error reply. */
static redisReplyObjectFunctions	*plain_fns;
static redisReplyObjectFunctions	 checked_fns;

static void
retry_later(struct wh_conn *c)
{
	if (c->stopping)
		return;
	c->backoff_ms = c->backoff_ms == 0 ? BACKOFF_MIN_MS :
	    c->backoff_ms * 2;
	if (c->backoff_ms > BACKOFF_MAX_MS)
		c->backoff_ms = BACKOFF_MAX_MS;
	c->ops->timer(c, c->backoff_ms);
}

/* The current wire out of the loop and freed (callbacks see it stale). */
static void
wire_release(struct wh_conn *c)
{
	struct wh_wire	*w = c->wire;

	c->wire = NULL;
	c->ready = 0;
	if (w == NULL)
		return;
	if (c->fd >= 0)
		c->ops->unwatch(c, c->fd);
	c->fd = -1;
	c->watched = -1;
	wh_wire_free(w);
}

/*
 * Called by the reply parser for every string, status and error, nested
 * ones (inside EXEC's array) too. A READONLY error means we talk to a
 * replica: the connection is left from its timer (not from inside the
 * parser) and the caller still gets its error reply. A NOSCRIPT error
 * means Redis forgot our scripts: they are loaded again once the replies
 * read are handed out (wh_conn_io), the caller's call failing like any
 * Redis error.
 */
static void *
create_string(const redisReadTask *task, char *str, size_t len)
{
	struct wh_conn	*c = task->privdata;

	if (c != NULL && task->type == REDIS_REPLY_ERROR && !c->kicked &&
	    wh_redis_wrong_master(str, len))
		wh_conn_kick(c, "the server answered READONLY: it is a replica");
	if (c != NULL && task->type == REDIS_REPLY_ERROR &&
	    wh_script_lost(str, len))
		c->scripts_lost = 1;
	return (plain_fns->createString(task, str, len));
}

void
wh_conn_watch_reader(struct wh_conn *c, redisReader *r)
{
	if (plain_fns == NULL) {
		plain_fns = r->fn;
		checked_fns = *plain_fns;
		checked_fns.createString = create_string;
	}
	r->fn = &checked_fns;
	r->privdata = c;
}

/* Asking sentinel c->sentinel failed: the next one now, or later. */
static void
ask_failed(struct wh_conn *c, const char *why)
{
	const struct wh_sentinel	*s = &c->addr->sentinels[c->sentinel];
	char				 port[16];

	(void)snprintf(port, sizeof(port), "%d", s->port);
	(void)snprintf(c->why, sizeof(c->why), "sentinel %s:%s: %s", s->host,
	    port, why);
	wh_log(WH_LOG_WARN, "sentinel did not name the master", "conn",
	    c->name, "sentinel", s->host, "port", port, "error", why, NULL);
	c->state = WH_CONN_DOWN;
	c->sentinel = (c->sentinel + 1) % c->addr->nsentinels;
	if (++c->tries < c->addr->nsentinels) {
		c->ops->timer(c, 0);
		return;
	}
	c->tries = 0;
	retry_later(c);
}

/*
 * The connection is gone (or never came up): try again after a pause,
 * which keeps growing while links drop as soon as they are made (a
 * refused AUTH, a replica named as master).
 */
static void
went_down(struct wh_conn *c, int was_up, const char *why)
{
	if (was_up && wh_mono_ms() - c->up_since >= STABLE_MS)
		c->backoff_ms = 0;
	wire_release(c);
	if (!c->kicked)
		(void)snprintf(c->why, sizeof(c->why), "%s", why);
	c->state = WH_CONN_DOWN;
	c->resolved = 0;
	if (c->kind == WH_CONN_WATCH)
		c->sentinel = (c->sentinel + 1) % c->addr->nsentinels;
	if (!c->stopping && !c->kicked)
		wh_log(WH_LOG_WARN, was_up ? "redis connection lost" :
		    "redis connect failed", "conn", c->name, "error", why, NULL);
	c->kicked = 0;
	if (was_up && c->on_down != NULL)
		c->on_down(c);
	retry_later(c);
}

/* The current wire is done with: what next depends on where we were. */
static void
context_gone(struct wh_conn *c, int was_up, const char *why)
{
	wire_release(c);
	if (c->state == WH_CONN_ASKING)
		ask_failed(c, why);
	else
		went_down(c, was_up, why);
}

/* Give up on the wire in progress (timeout, bad answer, stop). */
static void
drop_context(struct wh_conn *c)
{
	wire_release(c);
}

/* Watch for writing only while the wire has something to write. */
static void
rewatch(struct wh_conn *c)
{
	int	want;

	if (c->wire == NULL || c->fd < 0)
		return;
	want = wh_wire_wants_write(c->wire);
	if (c->watched != want) {
		c->ops->watch(c, c->fd, want);
		c->watched = want;
	}
}

static void
on_setup(struct wh_wire *w, void *r, void *priv)
{
	struct wh_conn	*c = w->data;
	redisReply	*reply = r;

	/* Before the conn is attached (a failed open) there is none. */
	if (c == NULL || w != c->wire || reply == NULL ||
	    reply->type != REDIS_REPLY_ERROR)
		return;
	wh_log(WH_LOG_ERROR, "redis setup command refused", "conn", c->name,
	    "command", (const char *)priv, "error", reply->str, NULL);
	(void)snprintf(c->why, sizeof(c->why), "%s refused: %s",
	    (const char *)priv, reply->str);
	wh_conn_kick(c, NULL);
}

/* The sentinel's answer: where the master is. */
static void
on_master(struct wh_wire *w, void *r, void *priv)
{
	struct wh_conn	*c = w->data;
	redisReply	*reply = r;
	char		 err[256];

	/* NULL: the link failed; wh_conn_io says why. */
	if (w != c->wire || reply == NULL)
		return;
	c->master = *c->addr;
	if (reply->type == REDIS_REPLY_ERROR)
		(void)snprintf(err, sizeof(err), "%s", reply->str);
	else if (wh_sentinel_master(reply, &c->master, err,
	    sizeof(err)) == 0) {
		drop_context(c);
		c->resolved = 1;
		c->tries = 0;
		c->state = WH_CONN_DOWN;
		c->ops->timer(c, 0);
		return;
	}
	drop_context(c);
	ask_failed(c, err);
}

static void
on_role(struct wh_wire *w, void *r, void *priv)
{
	struct wh_conn	*c = w->data;

	if (w != c->wire || r == NULL || wh_redis_is_master(r))
		return;
	wh_conn_kick(c, "the server the sentinels named is not a master");
}

/*
 * WATCH: a +switch-master message ("<name> <old ip> <old port> <new ip>
 * <new port>") about our master tells the owner to reconnect. The
 * SUBSCRIBE's own answer comes here too, and is not a "message".
 */
static void
on_message(struct wh_wire *w, void *r, void *priv)
{
	struct wh_conn	*c = w->data;
	redisReply	*reply = r;
	const char	*text;
	size_t		 n;

	if (w != c->wire || reply == NULL || reply->type != REDIS_REPLY_ARRAY ||
	    reply->elements != 3 ||
	    reply->element[0]->type != REDIS_REPLY_STRING ||
	    strcmp(reply->element[0]->str, "message") != 0 ||
	    reply->element[2]->type != REDIS_REPLY_STRING)
		return;
	text = reply->element[2]->str;
	n = strlen(c->addr->master_name);
	if (strncmp(text, c->addr->master_name, n) != 0 || text[n] != ' ')
		return;
	wh_log(WH_LOG_INFO, "sentinel reports a new master", "conn", c->name,
	    "switch", text, NULL);
	if (c->on_switch != NULL)
		c->on_switch(c);
}

/* A command of this file's own on the current wire. */
static int
conn_send(struct wh_conn *c, wh_reply_fn *cb, int argc, const char **argv)
{
	if (wh_wire_command(c->wire, cb, NULL, argc, argv, NULL) == -1)
		return (-1);
	rewatch(c);
	return (0);
}

static void
on_script_loaded(struct wh_wire *w, void *r, void *priv)
{
	const struct wh_script	*s = priv;
	redisReply		*reply = r;

	if (reply != NULL && (reply->type != REDIS_REPLY_STRING ||
	    strcmp(reply->str, s->sha) != 0))
		wh_log(WH_LOG_ERROR, "redis refused a script", "script",
		    s->name, "error", reply->type == REDIS_REPLY_ERROR ?
		    reply->str : "unexpected SHA-1", NULL);
}

/*
 * SCRIPT LOAD every embedded script on c's wire. Commands on one wire run
 * in order, so an EVALSHA sent after this always finds its script, also
 * after Redis restarted empty (the connection comes up anew, and here).
 */
static void
scripts_load(struct wh_conn *c)
{
	const char	*argv[3];
	size_t		 i;

	c->scripts_lost = 0;
	if (wh_script_sha(wh_lua_publish_event) == NULL) {
		wh_log(WH_LOG_ERROR, "cannot name the Lua scripts", NULL);
		return;
	}
	argv[0] = "SCRIPT";
	argv[1] = "LOAD";
	for (i = 0; i < wh_nscripts; i++) {
		argv[2] = wh_scripts[i].text;
		if (wh_wire_command(c->wire, on_script_loaded, &wh_scripts[i],
		    3, argv, NULL) == -1) {
			wh_conn_kick(c, "cannot load the scripts");
			return;
		}
	}
	rewatch(c);
}

/* The wire is up (TCP connected, TLS handshake done). */
static void
on_connect(struct wh_conn *c)
{
	const char	*argv[2];

	if (c->state == WH_CONN_ASKING)
		return;		/* the answer (or the timer) comes next */
	c->ops->timer(c, -1);
	c->state = WH_CONN_UP;
	c->ready = 1;
	c->why[0] = '\0';
	if (c->backoff_ms != 0)
		wh_log(WH_LOG_INFO, "redis reconnected", "conn", c->name, NULL);
	c->up_since = wh_mono_ms();
	c->tries = 0;
	if (c->kind == WH_CONN_WATCH) {
		argv[0] = "SUBSCRIBE";
		argv[1] = SWITCH_CHANNEL;
		wh_wire_on_push(c->wire, on_message, NULL);
		if (conn_send(c, on_message, 2, argv) == -1)
			wh_conn_kick(c, "cannot subscribe");
		return;
	}
	argv[0] = "ROLE";
	if (c->addr->nsentinels > 0 && conn_send(c, on_role, 1, argv) == -1)
		wh_conn_kick(c, "cannot check the role");
	scripts_load(c);
	if (c->on_up != NULL)
		c->on_up(c);
}

/* A wire closed on purpose once its replies came (wh_conn_stop). */
static void
stop_done(struct wh_conn *c)
{
	context_gone(c, c->state == WH_CONN_UP, "closed");
}

void
wh_conn_io(struct wh_conn *c, int events)
{
	struct wh_wire	*w = c->wire;
	char		 why[sizeof(w->err)];
	int		 was;

	if (w == NULL)
		return;
	was = w->state;
	if (wh_wire_io(w, events) == -1) {
		/* A callback that freed the wire has moved c on already. */
		if (c->wire != w)
			return;
		(void)snprintf(why, sizeof(why), "%s", w->err);
		context_gone(c, c->state == WH_CONN_UP, why);
		return;
	}
	if (c->wire != w)
		return;
	if (was != WH_WIRE_UP && w->state == WH_WIRE_UP)
		on_connect(c);
	if (c->wire != w)
		return;
	if (c->scripts_lost && c->state == WH_CONN_UP) {
		wh_log(WH_LOG_WARN, "redis lost our scripts; loading them "
		    "again", "conn", c->name, NULL);
		scripts_load(c);
	}
	if (c->stopping && wh_wire_owed(w) == 0) {
		stop_done(c);
		return;
	}
	rewatch(c);
}

int
wh_conn_command(struct wh_conn *c, wh_reply_fn *cb, void *priv, int argc,
    const char **argv, const size_t *lens)
{
	if (!c->ready || c->wire == NULL || c->stopping)
		return (-1);
	if (wh_wire_command(c->wire, cb, priv, argc, argv, lens) == -1)
		return (-1);
	rewatch(c);
	return (0);
}

int
wh_conn_script(struct wh_conn *c, wh_reply_fn *cb, void *priv,
    const char *text, int nkeys, int argc, const char **argv,
    const size_t *lens)
{
	struct wh_script_argv	a;
	int			rc;

	if (wh_script_argv(&a, text, nkeys, argc, argv, lens) == -1)
		return (-1);
	rc = wh_conn_command(c, cb, priv, a.n, a.av, a.al);
	wh_script_argv_free(&a);
	return (rc);
}

size_t
wh_conn_owed(const struct wh_conn *c)
{
	return (c->wire != NULL ? wh_wire_owed(c->wire) : 0);
}

/* Hook a new wire up: ours in w->data, the program's loop, checks. */
static void
conn_attach(struct wh_conn *c, struct wh_wire *w)
{
	c->wire = w;
	c->fd = w->fd;
	c->watched = -1;
	w->data = c;
	wh_conn_watch_reader(c, w->reader);
	/* The connect completes on the first writable event. */
	rewatch(c);
}

static void
conn_ask(struct wh_conn *c)
{
	struct wh_wire	*w;
	const char	*argv[3];
	char		 err[256];

	if ((w = wh_sentinel_open_async(c->addr, c->sentinel, on_setup, err,
	    sizeof(err))) == NULL) {
		ask_failed(c, err);
		return;
	}
	c->state = WH_CONN_ASKING;
	argv[0] = "SENTINEL";
	argv[1] = "get-master-addr-by-name";
	argv[2] = c->addr->master_name;
	if (wh_wire_command(w, on_master, NULL, 3, argv, NULL) == -1) {
		wh_wire_free(w);
		ask_failed(c, "cannot queue the question");
		return;
	}
	conn_attach(c, w);
	c->ops->timer(c, ASK_TIMEOUT_MS);
}

static void
conn_open(struct wh_conn *c)
{
	struct wh_wire	*w;
	char		 err[256];

	if (c->stopping)
		return;
	if (c->kind == WH_CONN_MASTER && c->addr->nsentinels > 0 &&
	    !c->resolved) {
		conn_ask(c);
		return;
	}
	c->resolved = 0;	/* the next connect asks again */
	if (c->kind == WH_CONN_WATCH)
		w = wh_sentinel_open_async(c->addr, c->sentinel, on_setup, err,
		    sizeof(err));
	else
		w = wh_redis_open_async(c->addr->nsentinels > 0 ? &c->master :
		    c->addr, on_setup, err, sizeof(err));
	if (w == NULL) {
		went_down(c, 0, err);
		return;
	}
	c->state = WH_CONN_CONNECTING;
	conn_attach(c, w);
	c->ops->timer(c, CONNECT_TIMEOUT_MS);
}

/* Why a connect gave up at its timer: the TLS handshake, or the rest. */
static const char *
stuck_why(const struct wh_conn *c, const char *otherwise)
{
	if (c->wire != NULL && c->wire->state == WH_WIRE_HANDSHAKE)
		return ("TLS: handshake timed out");
	return (otherwise);
}

void
wh_conn_start(struct wh_conn *c)
{
	c->wire = NULL;
	c->fd = -1;
	c->watched = -1;
	c->why[0] = '\0';
	c->state = WH_CONN_DOWN;
	c->ready = c->stopping = c->kicked = c->resolved = 0;
	c->backoff_ms = 0;
	c->sentinel = c->tries = 0;
	conn_open(c);
}

void
wh_conn_stop(struct wh_conn *c)
{
	c->stopping = 1;
	c->ops->timer(c, -1);
	if (c->wire == NULL)
		return;
	if (c->state == WH_CONN_UP && wh_wire_owed(c->wire) > 0)
		return;		/* wh_conn_io closes it after the last */
	if (c->state == WH_CONN_UP)
		stop_done(c);
	else
		drop_context(c);
}

void
wh_conn_kick(struct wh_conn *c, const char *why)
{
	if (c->kicked || c->stopping)
		return;
	/* Not connected: the next connect asks the sentinels anyway. */
	if (c->state == WH_CONN_DOWN)
		c->resolved = 0;
	if (c->state != WH_CONN_UP && c->state != WH_CONN_CONNECTING)
		return;
	if (why != NULL)
		wh_log(WH_LOG_WARN, "leaving this redis server", "conn",
		    c->name, "reason", why, NULL);
	c->kicked = 1;
	c->ops->timer(c, 0);
}

void
wh_conn_timer(struct wh_conn *c)
{
	const char	*why;

	switch (c->state) {
	case WH_CONN_DOWN:
		conn_open(c);
		break;
	case WH_CONN_ASKING:
		why = stuck_why(c, "no answer in time");
		drop_context(c);
		ask_failed(c, why);
		break;
	case WH_CONN_CONNECTING:
		why = stuck_why(c, "connect timed out");
		drop_context(c);
		went_down(c, 0, why);
		break;
	case WH_CONN_UP:
		/* Pending callbacks get NULL, then the connect again. */
		if (c->kicked && c->wire != NULL)
			context_gone(c, 1, "left");
		break;
	}
}

/*
 * One WAIT for everyone who must not answer before their writes reach k
 * replicas (the api's 202, the dispatcher's acks, --reencrypt-secrets):
 * 1 s at most, well within every link's call timeout.
 */
void
wh_redis_wait_argv(const char *argv[3], char *num, int k)
{
	(void)snprintf(num, WH_WAIT_NUM, "%d", k);
	argv[0] = "WAIT";
	argv[1] = num;
	argv[2] = "1000";
}
