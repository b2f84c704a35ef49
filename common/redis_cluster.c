/*
 * redis_cluster.c: a Redis Cluster behind one command queue (see
 * redis_cluster.h): the slot map, a connection per node, routing by slot,
 * redirects, waits, and callbacks in the order the commands were given.
 *
 * Every command given is kept on one list in order (order_head) until
 * its callback has run. A command is, at any time, in flight on one
 * link, waiting (its node not reachable yet, or a TRYAGAIN pause: the
 * timer sends it again at due, or gives it a NULL reply at deadline), or
 * done (its reply kept until those before it are done).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "redis_cluster.h"
#include "timeutil.h"

/* How long a command may wait for a node that takes it. */
#define WAIT_MS			5000
/* MOVED and ASK followed at most this often for one command. */
#define REDIRECTS_MAX		5
/* TRYAGAIN / CLUSTERDOWN waited out this often: 10 ms doubling to 1 s. */
#define WAITS_MAX		12
#define PAUSE_MIN_MS		10
#define PAUSE_MAX_MS		1000
/* While anything waits, the timer looks at least this often. */
#define TICK_MS			50
#define NO_LINK			((size_t)-1)
/* While a master of the map is down, the map is asked for this often. */
#define MAP_RETRY_MS		500

#define CMD_PLAIN		0
#define CMD_MULTI		1	/* MULTI */
#define CMD_END			2	/* EXEC, DISCARD */
#define CMD_LOAD		3	/* SCRIPT LOAD */
#define CMD_WAIT		4	/* WAIT: where the one before went */

struct wh_ccmd {
	struct wh_cluster	*cl;
	wh_reply_fn		*cb;
	void			*priv;
	int			 argc;
	const char		**argv;		/* into this allocation */
	size_t			*lens;
	int			 kind;		/* CMD_* */
	int			 slot;		/* -1: any node */
	int			 pinned;	/* inside MULTI: no redirects */
	size_t			 link;		/* where it went last */
	size_t			 ask_link;	/* ASK: once there */
	size_t			 fixed_link;	/* WAIT: only there */
	int			 redirects, waits;
	int			 inflight, waiting, done;
	int64_t			 due, deadline;
	redisReply		*reply;		/* done, kept */
	struct wh_ccmd		*next;
};

static void	send_cmd(struct wh_ccmd *);
static void	request_map(struct wh_cluster *);
static void	arm(struct wh_cluster *, int64_t ms);

static void
ignore_reply(struct wh_wire *w, void *r, void *priv)
{
}

static int
word(const struct wh_ccmd *cmd, int i, const char *w)
{
	return (cmd->argc > i && cmd->lens[i] == strlen(w) &&
	    strncasecmp(cmd->argv[i], w, cmd->lens[i]) == 0);
}

/* One allocation holding the command, its argv, lens and bytes. */
static struct wh_ccmd *
cmd_new(struct wh_cluster *cl, wh_reply_fn *cb, void *priv, int argc,
    const char **argv, const size_t *lens)
{
	struct wh_ccmd	*cmd;
	size_t		 total = 0, len;
	char		*p;
	int		 i;

	if (argc < 1)
		return (NULL);
	for (i = 0; i < argc; i++)
		total += (lens != NULL ? lens[i] : strlen(argv[i])) + 1;
	if ((cmd = calloc(1, sizeof(*cmd) + (size_t)argc * (sizeof(char *) +
	    sizeof(size_t)) + total)) == NULL)
		return (NULL);
	cmd->argv = (const char **)(cmd + 1);
	cmd->lens = (size_t *)(cmd->argv + argc);
	p = (char *)(cmd->lens + argc);
	for (i = 0; i < argc; i++) {
		len = lens != NULL ? lens[i] : strlen(argv[i]);
		memcpy(p, argv[i], len);
		p[len] = '\0';
		cmd->argv[i] = p;
		cmd->lens[i] = len;
		p += len + 1;
	}
	cmd->cl = cl;
	cmd->cb = cb;
	cmd->priv = priv;
	cmd->argc = argc;
	cmd->link = cmd->ask_link = cmd->fixed_link = NO_LINK;
	i = wh_command_key(argc, cmd->argv, cmd->lens);
	cmd->slot = i < 0 ? -1 :
	    (int)wh_key_slot(cmd->argv[i], cmd->lens[i]);
	if (word(cmd, 0, "MULTI"))
		cmd->kind = CMD_MULTI;
	else if (word(cmd, 0, "EXEC") || word(cmd, 0, "DISCARD"))
		cmd->kind = CMD_END;
	else if (word(cmd, 0, "SCRIPT") && word(cmd, 1, "LOAD") && argc == 3)
		cmd->kind = CMD_LOAD;
	else if (word(cmd, 0, "WAIT"))
		cmd->kind = CMD_WAIT;
	return (cmd);
}

/*
 * Run the callbacks of the done commands at the head of the list, in
 * order. A reply that waited for earlier ones comes with no wire.
 */
static void
deliver(struct wh_cluster *cl, struct wh_wire *w, struct wh_ccmd *now)
{
	struct wh_ccmd	*cmd;
	int		 mine;

	while ((cmd = cl->order_head) != NULL && cmd->done) {
		cl->order_head = cmd->next;
		if (cl->order_head == NULL)
			cl->order_tail = &cl->order_head;
		/* now's reply is the wire's to free (it was not kept). */
		mine = cmd != now;
		if (!mine)
			now = NULL;	/* its address may come back */
		if (cmd->cb != NULL)
			cmd->cb(mine ? NULL : w, cmd->reply, cmd->priv);
		if (cmd->reply != NULL && mine)
			freeReplyObject(cmd->reply);
		free(cmd);
	}
}

/*
 * cmd has its answer (r from w, or NULL): its callback runs now if every
 * command before it is done, or later with the reply kept.
 */
static void
finish(struct wh_ccmd *cmd, struct wh_wire *w, redisReply *r)
{
	struct wh_cluster	*cl = cmd->cl;

	cmd->done = 1;
	cmd->inflight = cmd->waiting = 0;
	cmd->reply = r;
	if (cl->order_head != cmd) {
		if (r != NULL && w != NULL)
			wh_wire_keep_reply(w);
		return;
	}
	deliver(cl, w, cmd);
}

/*
 * A command got NULL (its link dropped, or no node took it in time): the
 * owner hears on_down now and on_up once a fresh map is in, to resume
 * what it had in flight (a blocking read) on whichever node serves it.
 */
static void
lost(struct wh_cluster *cl)
{
	int	was = cl->resume;

	cl->resume = 1;
	request_map(cl);
	if (!was && cl->on_down != NULL)
		cl->on_down(cl);
}

/* Wait (due ms from now) for another try, within the command's deadline. */
static void
wait_cmd(struct wh_ccmd *cmd, int64_t in_ms)
{
	int64_t	now = wh_mono_ms();

	if (!cmd->waiting && cmd->deadline == 0)
		cmd->deadline = now + WAIT_MS;
	cmd->waiting = 1;
	cmd->inflight = 0;
	cmd->due = now + in_ms;
	arm(cmd->cl, in_ms < TICK_MS ? in_ms : TICK_MS);
}

/* The link of host:port, opened (and started) if new; NO_LINK if full. */
static size_t
link_for(struct wh_cluster *cl, const char *host, int port)
{
	struct wh_clink	*l;
	size_t		 i;

	for (i = 0; i < cl->nlinks; i++)
		if (cl->links[i]->addr.port == port &&
		    strcmp(cl->links[i]->addr.host, host) == 0)
			return (i);
	if (cl->nlinks == WH_CLUSTER_LINKS_MAX ||
	    (l = calloc(1, sizeof(*l))) == NULL)
		return (NO_LINK);
	if ((l->conn = cl->ops->conn_new(cl)) == NULL) {
		free(l);
		return (NO_LINK);
	}
	l->cl = cl;
	l->addr = *cl->addr;
	l->addr.ncluster = 0;
	(void)snprintf(l->addr.host, sizeof(l->addr.host), "%s", host);
	l->addr.port = port;
	(void)snprintf(l->name, sizeof(l->name), "%s %s:%d", cl->name, host,
	    port);
	cl->links[cl->nlinks] = l;
	return (cl->nlinks++);
}

static void	node_up(struct wh_conn *);
static void	node_down(struct wh_conn *);

static void
link_start(struct wh_clink *l)
{
	if (l->started || l->cl->stopping)
		return;
	l->started = 1;
	l->conn->name = l->name;
	l->conn->addr = &l->addr;
	l->conn->kind = WH_CONN_MASTER;
	l->conn->on_up = node_up;
	l->conn->on_down = node_down;
	l->conn->on_switch = NULL;
	l->conn->link = l;
	wh_conn_start(l->conn);
}

/* The link cmd goes to now, NO_LINK when none is known for its slot. */
static size_t
route(struct wh_ccmd *cmd)
{
	struct wh_cluster	*cl = cmd->cl;
	size_t			 i, l;

	if (cmd->ask_link != NO_LINK)
		return (cmd->ask_link);
	if (cmd->fixed_link != NO_LINK)
		return (cmd->fixed_link);
	if (cmd->pinned)
		return (cl->multi_link);
	if (cmd->slot >= 0)
		return (cl->slot_link[cmd->slot] == WH_CLUSTER_NO_NODE ?
		    NO_LINK : cl->slot_link[cmd->slot]);
	/* Any master: the one of slot 0 if up, else any link up. */
	l = cl->slot_link[0];
	if (l != WH_CLUSTER_NO_NODE && cl->links[l]->conn->ready)
		return (l);
	for (i = 0; i < cl->nlinks; i++)
		if (cl->links[i]->conn->ready)
			return (i);
	return (l == WH_CLUSTER_NO_NODE ? NO_LINK : l);
}

static void	on_cmd_reply(struct wh_wire *, void *, void *);

/* SCRIPT LOAD text on every link up but skip (the caller's own). */
static void
load_everywhere(struct wh_cluster *cl, const char *text, size_t len,
    size_t skip)
{
	const char	*argv[3] = { "SCRIPT", "LOAD", text };
	size_t		 lens[3] = { 6, 4, len }, i;

	for (i = 0; i < cl->nlinks; i++)
		if (i != skip && cl->links[i]->conn->ready)
			(void)wh_conn_command(cl->links[i]->conn, ignore_reply,
			    NULL, 3, argv, lens);
}

/* Remember a script text (once) for the links that come up later. */
static void
remember_script(struct wh_cluster *cl, const char *text, size_t len)
{
	char	**s;
	size_t	 *sl, i;

	for (i = 0; i < cl->nscripts; i++)
		if (cl->script_lens[i] == len &&
		    memcmp(cl->scripts[i], text, len) == 0)
			return;
	if ((s = reallocarray(cl->scripts, cl->nscripts + 1,
	    sizeof(*s))) == NULL)
		return;
	cl->scripts = s;
	if ((sl = reallocarray(cl->script_lens, cl->nscripts + 1,
	    sizeof(*sl))) == NULL)
		return;
	cl->script_lens = sl;
	if ((s[cl->nscripts] = malloc(len + 1)) == NULL)
		return;
	memcpy(s[cl->nscripts], text, len);
	s[cl->nscripts][len] = '\0';
	sl[cl->nscripts++] = len;
}

static void
send_cmd(struct wh_ccmd *cmd)
{
	struct wh_cluster	*cl = cmd->cl;
	struct wh_clink		*l;
	const char		*asking[1] = { "ASKING" };
	size_t			 i;

	if ((i = route(cmd)) == NO_LINK) {
		request_map(cl);
		wait_cmd(cmd, TICK_MS);
		return;
	}
	l = cl->links[i];
	link_start(l);
	if (!l->conn->ready || (cmd->ask_link != NO_LINK &&
	    wh_conn_command(l->conn, ignore_reply, NULL, 1, asking,
	    NULL) == -1) || wh_conn_command(l->conn, on_cmd_reply, cmd,
	    cmd->argc, cmd->argv, cmd->lens) == -1) {
		wait_cmd(cmd, TICK_MS);
		return;
	}
	cmd->ask_link = NO_LINK;
	cmd->link = i;
	cmd->inflight = 1;
	cmd->waiting = 0;
	if (cmd->kind == CMD_LOAD)
		load_everywhere(cl, cmd->argv[2], cmd->lens[2], i);
}

/*
 * A MOVED or ASK target: the host the node gave, or (when it gave none)
 * the host of the node that answered.
 */
static size_t
redirect_link(struct wh_ccmd *cmd, const struct wh_redirect *rd)
{
	struct wh_cluster	*cl = cmd->cl;
	const char		*host = rd->host;

	if (host[0] == '\0') {
		if (cmd->link == NO_LINK)
			return (NO_LINK);
		host = cl->links[cmd->link]->addr.host;
	}
	return (link_for(cl, host, rd->port));
}

/* A MOVED, ASK, TRYAGAIN or CLUSTERDOWN to follow: 1 if it was. */
static int
follow(struct wh_ccmd *cmd, const redisReply *r)
{
	struct wh_cluster	*cl = cmd->cl;
	struct wh_redirect	 rd;
	size_t			 l;
	int64_t			 pause;
	char			 slot[12];

	switch (wh_cluster_redirect(r->str, r->len, &rd)) {
	case WH_REDIR_MOVED:
	case WH_REDIR_ASK:
		if (cmd->redirects >= REDIRECTS_MAX ||
		    (l = redirect_link(cmd, &rd)) == NO_LINK)
			return (0);
		cmd->redirects++;
		(void)snprintf(slot, sizeof(slot), "%u", rd.slot);
		wh_log(WH_LOG_DEBUG, "redis cluster: redirected", "conn",
		    cl->name, "redirect", rd.kind == WH_REDIR_ASK ? "ASK" :
		    "MOVED", "slot", slot, "to", cl->links[l]->name, NULL);
		if (rd.kind == WH_REDIR_ASK) {
			cmd->ask_link = l;
		} else {
			/* The server's slot: ours may have been a guess. */
			cmd->slot = (int)rd.slot;
			cl->slot_link[rd.slot] = (uint16_t)l;
			request_map(cl);
		}
		send_cmd(cmd);
		return (1);
	case WH_REDIR_TRYAGAIN:
	case WH_REDIR_DOWN:
		if (cmd->waits >= WAITS_MAX)
			return (0);
		pause = (int64_t)PAUSE_MIN_MS << cmd->waits;
		if (pause > PAUSE_MAX_MS)
			pause = PAUSE_MAX_MS;
		cmd->waits++;
		if (rd.kind == WH_REDIR_DOWN)
			request_map(cl);
		/* A pause is not the node's absence: no deadline for it. */
		cmd->deadline = wh_mono_ms() + pause + WAIT_MS;
		wait_cmd(cmd, pause);
		return (1);
	}
	return (0);
}

/*
 * A command of a transaction is not redirected (the transaction fails with
 * EXECABORT), but its MOVED still tells where the slot went: without it a
 * program that only ever writes that slot in transactions (the api's
 * batches) would send every later one to the old master.
 */
static void
learn_moved(struct wh_ccmd *cmd, const redisReply *r)
{
	struct wh_cluster	*cl = cmd->cl;
	struct wh_redirect	 rd;
	size_t			 l;
	char			 slot[12];

	if (wh_cluster_redirect(r->str, r->len, &rd) != WH_REDIR_MOVED ||
	    (l = redirect_link(cmd, &rd)) == NO_LINK)
		return;
	(void)snprintf(slot, sizeof(slot), "%u", rd.slot);
	wh_log(WH_LOG_DEBUG, "redis cluster: redirected", "conn", cl->name,
	    "redirect", "MOVED", "slot", slot, "to", cl->links[l]->name,
	    NULL);
	cl->slot_link[rd.slot] = (uint16_t)l;
	request_map(cl);
}

static void
on_cmd_reply(struct wh_wire *w, void *r, void *priv)
{
	struct wh_ccmd	*cmd = priv;
	redisReply	*reply = r;

	cmd->inflight = 0;
	if (reply != NULL && reply->type == REDIS_REPLY_ERROR &&
	    !cmd->pinned && !cmd->cl->stopping && follow(cmd, reply))
		return;
	if (reply != NULL && reply->type == REDIS_REPLY_ERROR && cmd->pinned &&
	    !cmd->cl->stopping)
		learn_moved(cmd, reply);
	if (reply == NULL && !cmd->cl->stopping)
		lost(cmd->cl);
	finish(cmd, w, reply);
}

/*
 * A node the map no longer names (a dead master, a seed that is a
 * replica) is not dialled again and again while down; link_start opens
 * it again if a redirect names it.
 */
static void
unused_links_stop(struct wh_cluster *cl)
{
	int	used[WH_CLUSTER_LINKS_MAX];
	size_t	i;

	memset(used, 0, sizeof(used));
	for (i = 0; i < WH_CLUSTER_SLOTS; i++)
		if (cl->slot_link[i] != WH_CLUSTER_NO_NODE)
			used[cl->slot_link[i]] = 1;
	for (i = 0; i < cl->nlinks; i++) {
		if (used[i] || !cl->links[i]->started ||
		    cl->links[i]->conn->ready)
			continue;
		wh_conn_stop(cl->links[i]->conn);
		cl->links[i]->started = 0;
	}
}

/* The answer to CLUSTER SLOTS: every slot to the link of its master. */
static void
on_slots(struct wh_wire *w, void *r, void *priv)
{
	struct wh_clink		*l = priv;
	struct wh_cluster	*cl = l->cl;
	static struct wh_slot_map m;
	char			 err[256];
	size_t			 i, n, to[WH_CLUSTER_NODES_MAX];
	int			 first = !cl->ready;

	cl->mapping = 0;
	if (r == NULL || cl->stopping)
		goto again;
	if (wh_slot_map_parse(r, l->addr.host, &m, err, sizeof(err)) == -1) {
		(void)snprintf(cl->why, sizeof(cl->why), "%s", err);
		wh_log(WH_LOG_ERROR, "redis cluster: unusable slot map",
		    "conn", l->name, "error", err, NULL);
		goto again;
	}
	for (n = 0; n < m.nnodes; n++)
		if ((to[n] = link_for(cl, m.nodes[n].host,
		    m.nodes[n].port)) == NO_LINK) {
			(void)snprintf(cl->why, sizeof(cl->why),
			    "more cluster nodes than %d", WH_CLUSTER_LINKS_MAX);
			goto again;
		}
	for (i = 0; i < WH_CLUSTER_SLOTS; i++)
		cl->slot_link[i] = m.node[i] == WH_CLUSTER_NO_NODE ?
		    WH_CLUSTER_NO_NODE : (uint16_t)to[m.node[i]];
	for (n = 0; n < m.nnodes; n++)
		link_start(cl->links[to[n]]);
	unused_links_stop(cl);
	cl->ready = 1;
	cl->why[0] = '\0';
	cl->mapped_at = wh_mono_ms();
	if (first)
		wh_log(WH_LOG_INFO, "redis cluster: slot map loaded", "conn",
		    l->name, NULL);
	if ((first || cl->resume) && cl->on_up != NULL) {
		cl->resume = 0;
		cl->on_up(cl);
	}
again:
	if (cl->remap) {
		cl->remap = 0;
		request_map(cl);
	} else if (!cl->ready)
		arm(cl, TICK_MS);
}

/* Ask a link that is up for the whole map (once at a time). */
static void
request_map(struct wh_cluster *cl)
{
	const char	*argv[2] = { "CLUSTER", "SLOTS" };
	size_t		 i;

	if (cl->stopping)
		return;
	if (cl->mapping) {
		cl->remap = 1;
		return;
	}
	for (i = 0; i < cl->nlinks; i++) {
		if (!cl->links[i]->conn->ready)
			continue;
		if (wh_conn_command(cl->links[i]->conn, on_slots,
		    cl->links[i], 2, argv, NULL) == 0) {
			cl->mapping = 1;
			cl->remap = 0;
			return;
		}
	}
	cl->remap = 1;		/* the timer, or the next link up, asks */
	arm(cl, TICK_MS);
}

static void
node_up(struct wh_conn *c)
{
	struct wh_clink		*l = c->link;
	struct wh_cluster	*cl = l->cl;
	const char		*argv[3] = { "SCRIPT", "LOAD", NULL };
	size_t			 lens[3] = { 6, 4, 0 }, i;
	int			 back = l->downs > 0;

	l->was_up = 1;
	for (i = 0; i < cl->nscripts; i++) {
		argv[2] = cl->scripts[i];
		lens[2] = cl->script_lens[i];
		(void)wh_conn_command(c, ignore_reply, NULL, 3, argv, lens);
	}
	/* Back after a drop: the map may have changed meanwhile. */
	if (!cl->ready || cl->remap || back)
		request_map(cl);
	arm(cl, 0);		/* what waited for this node goes now */
}

/*
 * A node dropped: the map may have changed (a failover); ask again, and
 * keep asking (the timer) while a node of the map is down.
 */
static void
node_down(struct wh_conn *c)
{
	struct wh_clink		*l = c->link;
	struct wh_cluster	*cl = l->cl;

	if (!l->was_up)
		return;
	l->was_up = 0;
	l->downs++;
	(void)snprintf(cl->why, sizeof(cl->why), "%.100s: %.150s", l->name,
	    c->why);
	request_map(cl);
	arm(cl, MAP_RETRY_MS);
}

/* 1 if a master of the map has no link up (refresh the map meanwhile). */
static int
master_down(const struct wh_cluster *cl)
{
	size_t	i;

	for (i = 0; i < WH_CLUSTER_SLOTS; i++)
		if (cl->slot_link[i] != WH_CLUSTER_NO_NODE &&
		    !cl->links[cl->slot_link[i]]->conn->ready)
			return (1);
	return (0);
}

static void
arm(struct wh_cluster *cl, int64_t ms)
{
	int64_t	at = wh_mono_ms() + ms;

	if (cl->stopping || (cl->timer_at != 0 && cl->timer_at <= at))
		return;
	cl->timer_at = at;
	cl->ops->timer(cl, ms);
}

void
wh_cluster_timer(struct wh_cluster *cl)
{
	struct wh_ccmd	*cmd, *next;
	int64_t		 now = wh_mono_ms();
	int		 more = 0;

	cl->timer_at = 0;
	if (cl->ready && !cl->mapping && master_down(cl) &&
	    now - cl->mapped_at >= MAP_RETRY_MS)
		cl->remap = 1;
	if (cl->remap && !cl->mapping)
		request_map(cl);
	for (cmd = cl->order_head; cmd != NULL; cmd = next) {
		next = cmd->next;
		if (!cmd->waiting)
			continue;
		if (cmd->due <= now)
			send_cmd(cmd);
		if (cmd->waiting && now >= cmd->deadline) {
			/* finish may free cmd and those after it. */
			lost(cl);
			finish(cmd, NULL, NULL);
			more = 1;
			break;
		}
	}
	if (more)
		arm(cl, 0);
	for (cmd = cl->order_head; cmd != NULL; cmd = cmd->next)
		if (cmd->waiting) {
			arm(cl, TICK_MS);
			break;
		}
	if (!cl->ready && !cl->mapping)
		arm(cl, TICK_MS * 4);
	else if (cl->ready && master_down(cl))
		arm(cl, MAP_RETRY_MS);
}

/*
 * MULTI is held until the command after it says which node the
 * transaction runs on; that command, and all up to EXEC or DISCARD,
 * then go there unredirected (a slot that moved meanwhile fails the
 * transaction with EXECABORT, for the caller to report).
 */
static int
transaction(struct wh_cluster *cl, struct wh_ccmd *cmd)
{
	size_t	l;

	if (cmd->kind == CMD_MULTI) {
		if (cl->in_multi)
			return (-1);
		cl->in_multi = 1;
		cl->held_multi = cmd;
		return (0);
	}
	if (cl->in_multi == 1) {
		if ((l = route(cmd)) == NO_LINK ||
		    !cl->links[l]->conn->ready) {
			cl->in_multi = 0;
			finish(cl->held_multi, NULL, NULL);
			cl->held_multi = NULL;
			return (-1);
		}
		cl->multi_link = l;
		cl->in_multi = 2;
		cl->held_multi->pinned = 1;
		send_cmd(cl->held_multi);
		cl->held_multi = NULL;
	}
	cmd->pinned = 1;
	if (cmd->kind == CMD_END)
		cl->in_multi = 0;
	return (0);
}

int
wh_cluster_command(struct wh_cluster *cl, wh_reply_fn *cb, void *priv,
    int argc, const char **argv, const size_t *lens)
{
	struct wh_ccmd	*cmd;

	if (!cl->ready || cl->stopping ||
	    (cmd = cmd_new(cl, cb, priv, argc, argv, lens)) == NULL)
		return (-1);
	if ((cmd->kind == CMD_MULTI || cl->in_multi) &&
	    transaction(cl, cmd) == -1) {
		free(cmd);
		return (-1);
	}
	*cl->order_tail = cmd;
	cl->order_tail = &cmd->next;
	if (cmd->kind == CMD_LOAD)
		remember_script(cl, cmd->argv[2], cmd->lens[2]);
	/*
	 * WAIT counts the replicas of what its connection wrote: it goes
	 * where the command before it went, and fails (NULL) when that one
	 * is not on its way to a node.
	 */
	if (cmd->kind == CMD_WAIT && !cmd->pinned) {
		if (cl->last_link == NO_LINK) {
			finish(cmd, NULL, NULL);
			return (0);
		}
		cmd->fixed_link = cl->last_link;
	}
	if (cmd->kind != CMD_MULTI)
		send_cmd(cmd);
	cl->last_link = cmd->inflight ? cmd->link : NO_LINK;
	return (0);
}

/*
 * What a single Redis' "connection up" means for a cluster: a map is
 * known and every master it routes to has its link up (a master down
 * before its failover leaves its partitions unserved).
 */
int
wh_cluster_up(const struct wh_cluster *cl)
{
	return (cl->ready && !master_down(cl));
}

size_t
wh_cluster_owed(const struct wh_cluster *cl)
{
	const struct wh_ccmd	*cmd;
	size_t			 n = 0;

	for (cmd = cl->order_head; cmd != NULL; cmd = cmd->next)
		if (!cmd->done)
			n++;
	return (n);
}

void
wh_cluster_start(struct wh_cluster *cl)
{
	size_t	i, l;

	cl->ready = cl->stopping = cl->mapping = cl->remap = cl->resume = 0;
	cl->in_multi = 0;
	cl->held_multi = NULL;
	cl->last_link = NO_LINK;
	cl->nlinks = cl->nscripts = 0;
	cl->scripts = NULL;
	cl->script_lens = NULL;
	cl->order_head = NULL;
	cl->order_tail = &cl->order_head;
	cl->timer_at = 0;
	(void)snprintf(cl->why, sizeof(cl->why), "no slot map yet");
	memset(cl->slot_link, 0xff, sizeof(cl->slot_link));
	for (i = 0; i < cl->addr->ncluster; i++)
		if ((l = link_for(cl, cl->addr->cluster[i].host,
		    cl->addr->cluster[i].port)) != NO_LINK)
			link_start(cl->links[l]);
	arm(cl, TICK_MS * 4);
}

void
wh_cluster_stop(struct wh_cluster *cl)
{
	struct wh_ccmd	*cmd;
	size_t		 i;

	cl->stopping = 1;
	cl->ops->timer(cl, -1);
	cl->timer_at = 0;
	for (cmd = cl->order_head; cmd != NULL; cmd = cmd->next)
		if (cmd->waiting) {
			cmd->waiting = 0;
			cmd->done = 1;
		}
	if (cl->held_multi != NULL)
		cl->held_multi->done = 1;
	deliver(cl, NULL, NULL);
	for (i = 0; i < cl->nlinks; i++)
		if (cl->links[i]->started)
			wh_conn_stop(cl->links[i]->conn);
}
