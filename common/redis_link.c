/*
 * redis_link.c: one way to open Redis, for every program. Keeping it in
 * one place means AUTH (with an ACL user or not), SELECT and unix sockets
 * behave the same in the launcher's start-up check, the api workers and
 * the dispatcher.
 */
#include <stdio.h>

#include "redis_link.h"

/* One command; NULL (reason in err) on an I/O failure or an error reply. */
redisReply *
wh_redis_run(redisContext *c, char *err, size_t errlen, int argc, const char **argv)
{
	redisReply	*r;

	if ((r = redisCommandArgv(c, argc, argv, NULL)) == NULL) {
		(void)snprintf(err, errlen, "%s", c->errstr);
		return (NULL);
	}
	if (r->type == REDIS_REPLY_ERROR) {
		(void)snprintf(err, errlen, "%s", r->str);
		freeReplyObject(r);
		return (NULL);
	}
	return (r);
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

redisContext *
wh_redis_open_sync(const struct wh_redis_addr *a, int timeout_s, char *err,
    size_t errlen)
{
	struct timeval	 tv = { timeout_s, 0 };
	redisContext	*c;
	redisReply	*r;
	const char	*argv[3];
	char		 db[16];
	int		 n;

	if (a->unix_path[0] != '\0')
		c = redisConnectUnixWithTimeout(a->unix_path, tv);
	else
		c = redisConnectWithTimeout(a->host, a->port, tv);
	if (c == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		return (NULL);
	}
	if (c->err) {
		(void)snprintf(err, errlen, "%s", c->errstr);
		redisFree(c);
		return (NULL);
	}
	if (redisSetTimeout(c, tv) != REDIS_OK)
		goto fail;
	if ((n = setup_auth(a, argv)) > 0) {
		if ((r = wh_redis_run(c, err, errlen, n, argv)) == NULL)
			goto fail;
		freeReplyObject(r);
	}
	if ((n = setup_select(a, argv, db, sizeof(db))) > 0) {
		if ((r = wh_redis_run(c, err, errlen, n, argv)) == NULL)
			goto fail;
		freeReplyObject(r);
	}
	argv[0] = "PING";
	if ((r = wh_redis_run(c, err, errlen, 1, argv)) == NULL)
		goto fail;
	freeReplyObject(r);
	return (c);
fail:
	redisFree(c);
	return (NULL);
}

redisAsyncContext *
wh_redis_open_async(const struct wh_redis_addr *a, redisCallbackFn *on_setup,
    char *err, size_t errlen)
{
	redisAsyncContext	*ac;
	const char		*argv[3];
	char			 db[16];
	int			 n;

	if (a->unix_path[0] != '\0')
		ac = redisAsyncConnectUnix(a->unix_path);
	else
		ac = redisAsyncConnect(a->host, a->port);
	if (ac == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		return (NULL);
	}
	if (ac->err) {
		(void)snprintf(err, errlen, "%s", ac->errstr);
		redisAsyncFree(ac);
		return (NULL);
	}
	if ((n = setup_auth(a, argv)) > 0 && redisAsyncCommandArgv(ac,
	    on_setup, "AUTH", n, argv, NULL) != REDIS_OK)
		goto fail;
	if ((n = setup_select(a, argv, db, sizeof(db))) > 0 &&
	    redisAsyncCommandArgv(ac, on_setup, "SELECT", n, argv,
	    NULL) != REDIS_OK)
		goto fail;
	return (ac);
fail:
	(void)snprintf(err, errlen, "cannot queue AUTH/SELECT");
	redisAsyncFree(ac);
	return (NULL);
}

void
wh_redis_where(const struct wh_redis_addr *a, char *out, size_t len)
{
	if (a->unix_path[0] != '\0')
		(void)snprintf(out, len, "%s", a->unix_path);
	else
		(void)snprintf(out, len, "%s:%d", a->host, a->port);
}
