/*
 * redis_link.c: one way to open Redis, for every program. Keeping it in
 * one place means AUTH (with an ACL user or not), SELECT, TLS, unix
 * sockets and Redis Sentinel behave the same in the launcher's start-up check,
 * the api workers and the dispatcher.
 *
 * With sentinels configured, where the master is comes from them, asked
 * in turn (SENTINEL get-master-addr-by-name), and the server they name
 * must say it is a master (ROLE) before it is used: the Sentinel client
 * protocol (redis.io, "Sentinel client spec").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "cluster_map.h"
#include "redis_link.h"
#include "scripts.h"

/* Each sentinel gets this long to connect and answer, at start. */
#define SENTINEL_SYNC_TIMEOUT_S	1

/* One command, any reply; NULL (reason in err) on an I/O failure. */
static int	node_sync(struct wh_wire *, const struct wh_redis_addr *,
		    char *, size_t);
static struct wh_wire *connect_sync(const char *, int, const char *,
		    const struct wh_redis_tls *, int, char *, size_t);
static const struct wh_redis_tls *master_tls(const struct wh_redis_addr *);
static struct wh_wire *cluster_node_open(const struct wh_redis_addr *,
		    const char *, int, int, char *, size_t);

/*
 * In a Redis Cluster, a blocking command whose slot lives on another node
 * (MOVED, ASK) is sent there on a connection of its own, opened and
 * closed here (the launcher's few start-up commands need no more), and a
 * TRYAGAIN or CLUSTERDOWN is waited out (100 ms, 20 times at most).
 * r is the first answer; the last one is returned.
 */
static redisReply *
cluster_follow(struct wh_wire *w, redisReply *r, char *err, size_t errlen,
    int argc, const char **argv, const size_t *lens)
{
	const struct wh_redis_addr	*a = w->cluster;
	struct wh_redirect		 rd;
	struct wh_wire			*o;
	redisReply			*ok;
	const char			*asking[1] = { "ASKING" };
	int				 hops = 0, waits = 0, kind;

	while (r != NULL && r->type == REDIS_REPLY_ERROR &&
	    (kind = wh_cluster_redirect(r->str, r->len, &rd)) !=
	    WH_REDIR_NONE) {
		if (kind == WH_REDIR_TRYAGAIN || kind == WH_REDIR_DOWN) {
			if (++waits > 20)
				break;
			freeReplyObject(r);
			(void)usleep(100 * 1000);
			r = wh_wire_call(w, w->call_ms, argc, argv, lens, err,
			    errlen);
			continue;
		}
		if (++hops > 5)
			break;
		if (rd.host[0] == '\0')
			(void)snprintf(rd.host, sizeof(rd.host), "%s",
			    w->node_host);
		freeReplyObject(r);
		if ((o = connect_sync(rd.host, rd.port, "", master_tls(a),
		    w->call_ms / 1000, err, errlen)) == NULL)
			return (NULL);
		r = NULL;
		if (node_sync(o, a, err, errlen) == 0 &&
		    (kind != WH_REDIR_ASK || (ok = wh_wire_call(o, o->call_ms,
		    1, asking, NULL, err, errlen)) != NULL)) {
			if (kind == WH_REDIR_ASK)
				freeReplyObject(ok);
			r = wh_wire_call(o, o->call_ms, argc, argv, lens, err,
			    errlen);
		}
		wh_wire_free(o);
	}
	return (r);
}

redisReply *
wh_redis_call(struct wh_wire *w, char *err, size_t errlen, int argc,
    const char **argv, const size_t *lens)
{
	redisReply	*r;

	r = wh_wire_call(w, w->call_ms, argc, argv, lens, err, errlen);
	if (w->cluster != NULL)
		r = cluster_follow(w, r, err, errlen, argc, argv, lens);
	return (r);
}

/*
 * Why: a command whose key does not route it (SCAN) reaches only the node
 * it is sent to, and w's node may be a replica or serve other slots. The
 * map comes from w's node (CLUSTER SLOTS) as cluster_follow's redirects
 * would find it; the wire opened follows redirects like w.
 */
struct wh_wire *
wh_redis_slot_master(struct wh_wire *w, const char *key, size_t len,
    char *err, size_t errlen)
{
	const struct wh_redis_addr	*a = w->cluster;
	struct wh_slot_map		*m;
	struct wh_wire			*o = NULL;
	redisReply			*r;
	const char			*argv[2] = { "CLUSTER", "SLOTS" };
	unsigned			 n;

	if (a == NULL) {
		(void)snprintf(err, errlen, "not a Redis Cluster");
		return (NULL);
	}
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		return (NULL);
	}
	if ((r = wh_redis_run(w, err, errlen, 2, argv)) == NULL)
		goto out;
	n = WH_CLUSTER_NO_NODE;
	if (wh_slot_map_parse(r, w->node_host, m, err, errlen) == 0 &&
	    (n = m->node[wh_key_slot(key, len)]) == WH_CLUSTER_NO_NODE)
		(void)snprintf(err, errlen, "no master serves slot %u",
		    wh_key_slot(key, len));
	freeReplyObject(r);
	if (n == WH_CLUSTER_NO_NODE)
		goto out;
	o = cluster_node_open(a, m->nodes[n].host, m->nodes[n].port,
	    w->call_ms / 1000, err, errlen);
out:
	free(m);
	return (o);
}

/*
 * EVALSHA of an embedded script, blocking; a NOSCRIPT answer loads it
 * (SCRIPT LOAD) and calls it once more. Any reply, as wh_redis_call.
 */
redisReply *
wh_redis_script(struct wh_wire *w, char *err, size_t errlen,
    const char *text, int nkeys, int argc, const char **argv,
    const size_t *lens)
{
	struct wh_script_argv	 a;
	redisReply		*r, *l;
	const char		*load[3];

	if (wh_script_argv(&a, text, nkeys, argc, argv, lens) == -1) {
		(void)snprintf(err, errlen, "cannot build the script call");
		return (NULL);
	}
	r = wh_redis_call(w, err, errlen, a.n, a.av, a.al);
	if (r != NULL && r->type == REDIS_REPLY_ERROR &&
	    wh_script_lost(r->str, r->len)) {
		freeReplyObject(r);
		load[0] = "SCRIPT";
		load[1] = "LOAD";
		load[2] = text;
		r = NULL;
		if ((l = wh_redis_run(w, err, errlen, 3, load)) != NULL) {
			freeReplyObject(l);
			r = wh_redis_call(w, err, errlen, a.n, a.av, a.al);
		}
	}
	wh_script_argv_free(&a);
	return (r);
}

/* One command; NULL (reason in err) on an I/O failure or an error reply. */
redisReply *
wh_redis_run(struct wh_wire *w, char *err, size_t errlen, int argc,
    const char **argv)
{
	redisReply	*r;

	if ((r = wh_redis_call(w, err, errlen, argc, argv, NULL)) == NULL)
		return (NULL);
	if (r->type == REDIS_REPLY_ERROR) {
		(void)snprintf(err, errlen, "%s", r->str);
		freeReplyObject(r);
		return (NULL);
	}
	return (r);
}

struct wh_wire *
wh_redis_reach(const struct wh_redis_addr *a, int timeout_s)
{
	struct wh_wire	*c;
	char		 err[512], where[WH_HOST_MAX + 16];

	if ((c = wh_redis_open_sync(a, timeout_s, err, sizeof(err))) != NULL)
		return (c);
	wh_redis_where(a, where, sizeof(where));
	wh_log(WH_LOG_ERROR, a->nsentinels > 0 ?
	    "cannot reach Redis (WH_REDIS_SENTINELS)" :
	    "cannot reach Redis (WH_REDIS_URL)", "redis", where, "error", err,
	    NULL);
	exit(1);
}

/* TLS settings for the master (rediss://), or NULL: plain. */
static const struct wh_redis_tls *
master_tls(const struct wh_redis_addr *a)
{
	return (a->tls.on ? &a->tls : NULL);
}

/* The same for the sentinels (WH_REDIS_SENTINEL_TLS). */
static const struct wh_redis_tls *
sentinel_tls(const struct wh_redis_addr *a)
{
	return (a->tls.sentinels ? &a->tls : NULL);
}

/* The AUTH and SELECT a connection needs first; returns argc of each. */
static int
setup_auth(const struct wh_redis_addr *a, const char **argv)
{
	if (a->password[0] == '\0')
		return (0);
	argv[0] = "AUTH";
	if (a->username[0] == '\0') {
		argv[1] = a->password;
		return (2);
	}
	argv[1] = a->username;
	argv[2] = a->password;
	return (3);
}

static int
setup_select(const struct wh_redis_addr *a, const char **argv, char *db,
    size_t dblen)
{
	if (a->db == 0)
		return (0);
	(void)snprintf(db, dblen, "%d", a->db);
	argv[0] = "SELECT";
	argv[1] = db;
	return (2);
}

/*
 * A blocking connection to host:port (or a socket): opened here, its
 * connect (and TLS handshake) done by the first command, every command
 * bounded by timeout_s.
 */
static struct wh_wire *
connect_sync(const char *host, int port, const char *unix_path,
    const struct wh_redis_tls *tls, int timeout_s, char *err, size_t errlen)
{
	struct wh_wire	*w;

	if ((w = wh_wire_open(host, port, unix_path, tls, err,
	    errlen)) == NULL)
		return (NULL);
	w->call_ms = timeout_s * 1000;
	return (w);
}

/* Run argc/argv unless argc is 0; -1 (reason in err) on failure. */
static int
run_quiet(struct wh_wire *c, char *err, size_t errlen, int argc,
    const char **argv)
{
	redisReply	*r;

	if (argc == 0)
		return (0);
	if ((r = wh_redis_run(c, err, errlen, argc, argv)) == NULL)
		return (-1);
	freeReplyObject(r);
	return (0);
}

/* Ask sentinel i where the master is; fills m's host and port. */
static int
ask_sync(const struct wh_redis_addr *a, size_t i, struct wh_redis_addr *m,
    char *err, size_t errlen)
{
	struct wh_wire	*c;
	redisReply	*r;
	const char	*argv[3];
	int		 rc = -1;

	if ((c = connect_sync(a->sentinels[i].host, a->sentinels[i].port, "",
	    sentinel_tls(a), SENTINEL_SYNC_TIMEOUT_S, err, errlen)) == NULL)
		return (-1);
	if (run_quiet(c, err, errlen, wh_sentinel_auth_argv(a, argv),
	    argv) == -1)
		goto out;
	argv[0] = "SENTINEL";
	argv[1] = "get-master-addr-by-name";
	argv[2] = a->master_name;
	if ((r = wh_redis_run(c, err, errlen, 3, argv)) == NULL)
		goto out;
	rc = wh_sentinel_master(r, m, err, errlen);
	freeReplyObject(r);
out:
	wh_wire_free(c);
	return (rc);
}

/* AUTH (if any) and PING on a cluster node's new blocking wire. */
static int
node_sync(struct wh_wire *w, const struct wh_redis_addr *a, char *err,
    size_t errlen)
{
	const char	*argv[3];

	if (run_quiet(w, err, errlen, setup_auth(a, argv), argv) == -1)
		return (-1);
	argv[0] = "PING";
	return (run_quiet(w, err, errlen, 1, argv));
}

/*
 * A blocking wire to one cluster node (host:port), authenticated and
 * set up as node_sync does, that follows redirects (wh_redis_call);
 * NULL with the reason in err.
 */
static struct wh_wire *
cluster_node_open(const struct wh_redis_addr *a, const char *host, int port,
    int timeout_s, char *err, size_t errlen)
{
	struct wh_wire	*w;

	if ((w = connect_sync(host, port, "", master_tls(a), timeout_s, err,
	    errlen)) == NULL)
		return (NULL);
	if (node_sync(w, a, err, errlen) == -1) {
		wh_wire_free(w);
		return (NULL);
	}
	w->cluster = a;
	(void)snprintf(w->node_host, sizeof(w->node_host), "%s", host);
	return (w);
}

/* The first seed node that answers, its wire following redirects. */
static struct wh_wire *
cluster_open_sync(const struct wh_redis_addr *a, int timeout_s, char *err,
    size_t errlen)
{
	struct wh_wire	*w;
	char		 why[256];
	size_t		 i;

	for (i = 0; i < a->ncluster; i++) {
		if ((w = cluster_node_open(a, a->cluster[i].host,
		    a->cluster[i].port, timeout_s, why, sizeof(why))) != NULL)
			return (w);
		(void)snprintf(err, errlen, "cluster node %s:%d: %s",
		    a->cluster[i].host, a->cluster[i].port, why);
	}
	return (NULL);
}

struct wh_wire *
wh_redis_open_sync(const struct wh_redis_addr *a, int timeout_s, char *err,
    size_t errlen)
{
	struct wh_redis_addr	 m;
	struct wh_wire		*c;
	redisReply		*r;
	const char		*argv[3];
	char			 db[16], why[256];
	size_t			 i;

	m = *a;
	for (i = 0; i < a->nsentinels; i++) {
		if (ask_sync(a, i, &m, why, sizeof(why)) == 0)
			break;
		(void)snprintf(err, errlen, "sentinel %s:%d: %s",
		    a->sentinels[i].host, a->sentinels[i].port, why);
	}
	if (a->nsentinels > 0 && i == a->nsentinels)
		return (NULL);

	if (a->tls.insecure && (a->tls.on || a->tls.sentinels))
		wh_log(WH_LOG_WARN, "WH_REDIS_TLS_INSECURE=1: the Redis "
		    "server's certificate and name are not verified; anyone "
		    "on the path can read and change what is sent", NULL);
	if (a->ncluster > 0)
		return (cluster_open_sync(a, timeout_s, err, errlen));
	if ((c = connect_sync(m.host, m.port, m.unix_path, master_tls(a),
	    timeout_s, err, errlen)) == NULL)
		return (NULL);
	if (run_quiet(c, err, errlen, setup_auth(&m, argv), argv) == -1 ||
	    run_quiet(c, err, errlen, setup_select(&m, argv, db, sizeof(db)),
	    argv) == -1)
		goto fail;
	argv[0] = a->nsentinels > 0 ? "ROLE" : "PING";
	if ((r = wh_redis_run(c, err, errlen, 1, argv)) == NULL)
		goto fail;
	if (a->nsentinels > 0 && !wh_redis_is_master(r)) {
		(void)snprintf(err, errlen, "%s:%d, named by the sentinels, "
		    "is not a master", m.host, m.port);
		freeReplyObject(r);
		goto fail;
	}
	freeReplyObject(r);
	return (c);
fail:
	wh_wire_free(c);
	return (NULL);
}

/* Non-blocking connect with its first commands queued (argc 0: none). */
static struct wh_wire *
open_async(const char *host, int port, const char *unix_path,
    const struct wh_redis_tls *tls, wh_reply_fn *on_setup, int n1,
    const char **argv1, int n2, const char **argv2, char *err,
    size_t errlen)
{
	struct wh_wire	*w;

	if ((w = wh_wire_open(host, port, unix_path, tls, err,
	    errlen)) == NULL)
		return (NULL);
	if ((n1 > 0 && wh_wire_command(w, on_setup, (void *)argv1[0], n1,
	    argv1, NULL) == -1) ||
	    (n2 > 0 && wh_wire_command(w, on_setup, (void *)argv2[0], n2,
	    argv2, NULL) == -1)) {
		(void)snprintf(err, errlen, "cannot queue AUTH/SELECT");
		wh_wire_free(w);
		return (NULL);
	}
	return (w);
}

struct wh_wire *
wh_redis_open_async(const struct wh_redis_addr *a, wh_reply_fn *on_setup,
    char *err, size_t errlen)
{
	const char	*auth[3], *sel[2];
	char		 db[16];

	return (open_async(a->host, a->port, a->unix_path, master_tls(a),
	    on_setup, setup_auth(a, auth), auth, setup_select(a, sel, db,
	    sizeof(db)), sel, err, errlen));
}

struct wh_wire *
wh_sentinel_open_async(const struct wh_redis_addr *a, size_t i,
    wh_reply_fn *on_setup, char *err, size_t errlen)
{
	const char	*auth[2];

	return (open_async(a->sentinels[i].host, a->sentinels[i].port, "",
	    sentinel_tls(a), on_setup, wh_sentinel_auth_argv(a, auth), auth, 0,
	    NULL, err, errlen));
}

int
wh_sentinel_auth_argv(const struct wh_redis_addr *a, const char **argv)
{
	if (a->sentinel_password[0] == '\0')
		return (0);
	argv[0] = "AUTH";
	argv[1] = a->sentinel_password;
	return (2);
}

/*
 * The answer to SENTINEL get-master-addr-by-name: [ip, port], or nil
 * when the sentinel does not know the name.
 */
int
wh_sentinel_master(const redisReply *r, struct wh_redis_addr *m, char *err,
    size_t errlen)
{
	long	port;
	char	*end;

	if (r->type == REDIS_REPLY_NIL) {
		(void)snprintf(err, errlen, "the sentinel does not know this "
		    "master name (WH_REDIS_SENTINEL_MASTER)");
		return (-1);
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING ||
	    r->element[1]->type != REDIS_REPLY_STRING ||
	    r->element[0]->len == 0 || r->element[0]->len >= sizeof(m->host)) {
		(void)snprintf(err, errlen, "unexpected sentinel answer");
		return (-1);
	}
	port = strtol(r->element[1]->str, &end, 10);
	if (*end != '\0' || port < 1 || port > 65535) {
		(void)snprintf(err, errlen, "unexpected sentinel answer");
		return (-1);
	}
	memcpy(m->host, r->element[0]->str, r->element[0]->len + 1);
	m->port = (int)port;
	return (0);
}

int
wh_redis_is_master(const redisReply *r)
{
	return (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
	    r->element[0]->type == REDIS_REPLY_STRING &&
	    strcmp(r->element[0]->str, "master") == 0);
}

/*
 * An error that says this server is not (or no longer) the master, so
 * that the connection should find the master again: a replica refuses
 * writes with READONLY (a demoted master after a failover).
 */
int
wh_redis_wrong_master(const char *error, size_t len)
{
	return (len >= 8 && strncmp(error, "READONLY", 8) == 0);
}

void
wh_redis_where(const struct wh_redis_addr *a, char *out, size_t len)
{
	size_t	i, off;
	int	n;

	if (a->nsentinels == 0) {
		if (a->unix_path[0] != '\0')
			(void)snprintf(out, len, "%s", a->unix_path);
		else
			(void)snprintf(out, len, "%s:%d", a->host, a->port);
		return;
	}
	n = snprintf(out, len, "master %s via sentinels ", a->master_name);
	off = n < 0 ? 0 : (size_t)n;
	for (i = 0; i < a->nsentinels && off < len; i++) {
		n = snprintf(out + off, len - off, "%s%s:%d", i ? "," : "",
		    a->sentinels[i].host, a->sentinels[i].port);
		if (n < 0)
			break;
		off += (size_t)n;
	}
}
