/*
 * heartbeat.c: the dispatcher's liveness signal, without an HTTP server.
 *
 * A loop timer rewrites the file named by WH_HEARTBEAT_FILE every
 * HEARTBEAT_EVERY_MS, so its modification time says when the event loop
 * last turned. `webhooks-dispatcher --check-heartbeat [max_age_s]` reads
 * that time and exits 0 while it is fresh, 1 when it is stale or missing:
 * Kubernetes' exec liveness probe and the image's HEALTHCHECK run it.
 *
 * Liveness means the loop turns, nothing more. Redis being down does not
 * stop the heartbeat: the dispatcher reconnects by itself, and a restart
 * would not bring Redis back (Redis is the api's readiness, GET /readyz).
 * A draining dispatcher (SIGTERM) keeps beating until it exits.
 *
 * The write is a small file on local disk (tmpfs or an emptyDir in a
 * pod), done from the loop; a failure to write is logged once, not fatal,
 * except at start, where it is a configuration error.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config_vars.h"
#include "dispatch.h"
#include "log.h"
#include "loop.h"
#include "timeutil.h"

#define HEARTBEAT_DEFAULT_FILE	WH_HEARTBEAT_FILE_DEFAULT
#define HEARTBEAT_EVERY_MS	1000
#define HEARTBEAT_MAX_AGE_S	10	/* the check's default */
#define HEARTBEAT_MAX_AGE_LIMIT	86400

static char			hb_path[PATH_MAX];
static struct loop_timer	hb_timer;
static int			hb_failing;

/* WH_HEARTBEAT_FILE, or the default: an absolute path. -1 with err. */
static int
heartbeat_path(char *out, size_t len, char *err, size_t errlen)
{
	const char	*v;

	if ((v = getenv("WH_HEARTBEAT_FILE")) == NULL || *v == '\0')
		v = HEARTBEAT_DEFAULT_FILE;
	if (v[0] != '/' || strlen(v) >= len) {
		(void)snprintf(err, errlen, "WH_HEARTBEAT_FILE must be an "
		    "absolute path shorter than %zu bytes (got \"%.80s\")",
		    len, v);
		return (-1);
	}
	(void)snprintf(out, len, "%s", v);
	return (0);
}

/* Rewrite the file: its mtime is the beat, its text is for people. */
static int
heartbeat_write(char *err, size_t errlen)
{
	char	line[64];
	int	fd, n;

	n = snprintf(line, sizeof(line), "%lld %ld\n",
	    (long long)wh_now_ms(), (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(line))
		return (-1);
	fd = open(hb_path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0644);
	if (fd == -1) {
		(void)snprintf(err, errlen, "%s", strerror(errno));
		return (-1);
	}
	if (write(fd, line, (size_t)n) != n) {
		(void)snprintf(err, errlen, "%s", errno ? strerror(errno) :
		    "short write");
		(void)close(fd);
		return (-1);
	}
	if (close(fd) == -1) {
		(void)snprintf(err, errlen, "%s", strerror(errno));
		return (-1);
	}
	return (0);
}

static void
heartbeat_tick(void *arg)
{
	char	err[128];

	errno = 0;
	if (heartbeat_write(err, sizeof(err)) == -1) {
		if (!hb_failing)
			wh_log(WH_LOG_WARN, "cannot write the heartbeat file "
			    "(WH_HEARTBEAT_FILE); liveness checks will fail",
			    "file", hb_path, "error", err, NULL);
		hb_failing = 1;
	} else if (hb_failing) {
		wh_log(WH_LOG_INFO, "heartbeat file written again", "file",
		    hb_path, NULL);
		hb_failing = 0;
	}
	loop_timer_arm(&hb_timer, HEARTBEAT_EVERY_MS);
}

int
heartbeat_start(char *err, size_t errlen)
{
	char	why[128];

	if (heartbeat_path(hb_path, sizeof(hb_path), err, errlen) == -1)
		return (-1);
	errno = 0;
	if (heartbeat_write(why, sizeof(why)) == -1) {
		(void)snprintf(err, errlen, "cannot write WH_HEARTBEAT_FILE "
		    "%.200s: %s", hb_path, why);
		return (-1);
	}
	loop_timer_init(&hb_timer, heartbeat_tick, NULL);
	loop_timer_arm(&hb_timer, HEARTBEAT_EVERY_MS);
	return (0);
}

/*
 * --check-heartbeat [max_age_s]: 0 if the file was written within
 * max_age_s seconds, 1 if not (or missing), 2 on a usage error. Silent
 * when fresh; one JSON line on stderr otherwise.
 */
int
heartbeat_check(int argc, char **argv)
{
	struct stat	 st;
	struct timespec	 now;
	char		 path[PATH_MAX], err[256], age[32], max[32];
	char		*end;
	long		 max_s = HEARTBEAT_MAX_AGE_S;
	int64_t		 age_ms;

	if (argc > 1)
		goto usage;
	if (argc == 1) {
		errno = 0;
		max_s = strtol(argv[0], &end, 10);
		if (errno != 0 || end == argv[0] || *end != '\0' ||
		    max_s < 1 || max_s > HEARTBEAT_MAX_AGE_LIMIT)
			goto usage;
	}
	if (heartbeat_path(path, sizeof(path), err, sizeof(err)) == -1) {
		wh_log(WH_LOG_ERROR, err, NULL);
		return (2);
	}
	(void)snprintf(max, sizeof(max), "%ld", max_s);
	errno = 0;
	if (stat(path, &st) == -1 || !S_ISREG(st.st_mode)) {
		wh_log(WH_LOG_ERROR, "heartbeat missing", "file", path,
		    "error", errno ? strerror(errno) : "not a regular file",
		    NULL);
		return (1);
	}
	if (clock_gettime(CLOCK_REALTIME, &now) == -1)
		return (1);
	age_ms = ((int64_t)now.tv_sec - (int64_t)st.st_mtim.tv_sec) * 1000 +
	    ((int64_t)now.tv_nsec - (int64_t)st.st_mtim.tv_nsec) / 1000000;
	if (age_ms < 0)
		age_ms = 0;
	if (age_ms > (int64_t)max_s * 1000) {
		(void)snprintf(age, sizeof(age), "%lld", (long long)age_ms);
		wh_log(WH_LOG_ERROR, "heartbeat stale: the event loop has not "
		    "turned", "file", path, "age_ms", age, "max_age_s", max,
		    NULL);
		return (1);
	}
	return (0);
usage:
	(void)fprintf(stderr, "usage: webhooks-dispatcher --check-heartbeat "
	    "[max_age_s (1-%d, default %d)]\n", HEARTBEAT_MAX_AGE_LIMIT,
	    HEARTBEAT_MAX_AGE_S);
	return (2);
}
