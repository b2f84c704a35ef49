/*
 * main.c: build/webhooks-api, the api's launcher.
 *
 * Kore is a server binary that loads an application module and reads a
 * configuration file; our contract is a program configured only by the
 * environment. This launcher bridges the two: it checks the WH_*
 * variables and that Redis answers (one clear line and a non-zero exit
 * otherwise), makes sure the bootstrap admin key exists, writes Kore's
 * configuration from api/conf/webhooks.conf into a private temporary
 * directory, and runs kore (our patched build, webhooks-kore beside this
 * program) in the foreground as its child. Kore's own
 * printf-style lines are turned into JSON lines on stderr, and SIGTERM /
 * SIGINT are passed on, so the process behaves like any other service.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "buf.h"
#include "config.h"
#include "config_vars.h"
#include "encode.h"
#include "keys.h"
#include "launcher.h"
#include "log.h"
#include "redis_link.h"
#include "sign.h"
#include "timeutil.h"

#define REDIS_CONNECT_TIMEOUT_S	3
#define LINE_MAX_KORE		2048

static volatile sig_atomic_t	child_pid;
static volatile sig_atomic_t	stopping;

static void
die(const char *msg, const char *k, const char *v)
{
	wh_log(WH_LOG_ERROR, msg, k, v, NULL);
	exit(1);
}

/*
 * The environment is the source of truth for the bootstrap key: created
 * when missing, its hash replaced when the secret changed.
 */
static void
bootstrap_key(struct wh_wire *c, const struct wh_config *cfg)
{
	unsigned char	 digest[WH_SHA256_LEN];
	char		 hex[2 * WH_SHA256_LEN + 1], key[WH_KEY_MAX];
	char		 now[24], err[256];
	const char	*argv[8];
	redisReply	*r;

	if (!cfg->has_bootstrap)
		return;
	if (wh_sha256(cfg->bootstrap_secret, strlen(cfg->bootstrap_secret),
	    digest) == -1)
		die("cannot hash WH_BOOTSTRAP_KEY (OpenSSL)", NULL, NULL);
	(void)wh_hex_encode(digest, sizeof(digest), hex);
	if (wh_key_apikey(key, sizeof(key), cfg->prefix,
	    cfg->bootstrap_id) == -1)
		die("WH_BOOTSTRAP_KEY: key id too long", NULL, NULL);
	(void)snprintf(now, sizeof(now), "%lld", (long long)wh_now_ms());

	argv[0] = "HSETNX"; argv[1] = key; argv[2] = "created_at";
	argv[3] = now;
	if ((r = wh_redis_run(c, err, sizeof(err), 4, argv)) == NULL)
		die("cannot create the bootstrap key", "error", err);
	freeReplyObject(r);
	argv[0] = "HSET"; argv[2] = "secret_sha256"; argv[3] = hex;
	argv[4] = "company_sid"; argv[5] = "*";
	if ((r = wh_redis_run(c, err, sizeof(err), 6, argv)) == NULL)
		die("cannot create the bootstrap key", "error", err);
	freeReplyObject(r);
	/* Listed by GET /v1/api-keys like the keys the api creates. */
	if (wh_key_apikeys(key, sizeof(key), cfg->prefix) == -1)
		die("WH_REDIS_PREFIX too long", NULL, NULL);
	argv[0] = "ZADD"; argv[1] = key; argv[2] = "NX"; argv[3] = now;
	argv[4] = cfg->bootstrap_id;
	if ((r = wh_redis_run(c, err, sizeof(err), 5, argv)) == NULL)
		die("cannot create the bootstrap key", "error", err);
	freeReplyObject(r);
	wh_log(WH_LOG_INFO, "bootstrap admin key ready", "key_id",
	    cfg->bootstrap_id, NULL);
}

/* Directory of this executable: the module and template live beside it. */
static void
self_dir(char *out, size_t len)
{
	ssize_t	n;
	char	*slash;

	if ((n = readlink("/proc/self/exe", out, len - 1)) <= 0)
		die("cannot find the launcher's own path", NULL, NULL);
	out[n] = '\0';
	if ((slash = strrchr(out, '/')) != NULL)
		*slash = '\0';
}

/* Copy the template to path, replacing each @NAME@ by its value. */
static void
write_conf(const char *tmpl, const char *path, const char **names,
    const char **values, size_t n)
{
	struct wh_buf	 in, out;
	char		 chunk[4096];
	const char	*p, *end, *at;
	ssize_t		 r;
	size_t		 i, nlen;
	int		 fd;

	wh_buf_init(&in, 1 << 20);
	wh_buf_init(&out, 1 << 20);
	if ((fd = open(tmpl, O_RDONLY | O_CLOEXEC)) == -1)
		die("cannot open the kore configuration template", "path", tmpl);
	while ((r = read(fd, chunk, sizeof(chunk))) > 0) {
		if (wh_buf_append(&in, chunk, (size_t)r) == -1)
			die("kore configuration template too large", NULL, NULL);
	}
	(void)close(fd);
	if (r == -1)
		die("cannot read the kore configuration template", "path", tmpl);

	p = in.data;
	end = in.data + in.len;
	while (p < end) {
		if (*p != '@') {
			if (wh_buf_append(&out, p++, 1) == -1)
				die("out of memory", NULL, NULL);
			continue;
		}
		for (i = 0; i < n; i++) {
			nlen = strlen(names[i]);
			if ((size_t)(end - p) >= nlen + 2 &&
			    memcmp(p + 1, names[i], nlen) == 0 &&
			    p[nlen + 1] == '@')
				break;
		}
		at = p;
		if (i == n) {
			if (wh_buf_append(&out, at, 1) == -1)
				die("out of memory", NULL, NULL);
			p++;
			continue;
		}
		if (wh_buf_appendstr(&out, values[i]) == -1)
			die("out of memory", NULL, NULL);
		p += strlen(names[i]) + 2;
	}

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1 || write(fd, out.data, out.len) != (ssize_t)out.len ||
	    close(fd) == -1)
		die("cannot write the kore configuration", "path", path);
	wh_buf_free(&in);
	wh_buf_free(&out);
}

static void
on_signal(int sig)
{
	stopping = 1;
	if (child_pid > 0)
		(void)kill((pid_t)child_pid, sig == SIGHUP ? SIGHUP : SIGTERM);
}

/* Each line kore prints becomes a JSON log line. */
static void
relay_lines(int fd)
{
	char	buf[LINE_MAX_KORE];
	size_t	have = 0;
	ssize_t	n;
	char	*nl;

	for (;;) {
		n = read(fd, buf + have, sizeof(buf) - 1 - have);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
		buf[have] = '\0';
		while ((nl = strchr(buf, '\n')) != NULL) {
			*nl = '\0';
			if (nl != buf)
				wh_log(strstr(buf, "fatal") || strstr(buf,
				    "error") ? WH_LOG_ERROR : WH_LOG_INFO,
				    buf, "source", "kore", NULL);
			have -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, have + 1);
		}
		if (have == sizeof(buf) - 1) {
			wh_log(WH_LOG_INFO, buf, "source", "kore", NULL);
			have = 0;
		}
	}
	if (have > 0) {
		buf[have] = '\0';
		wh_log(WH_LOG_INFO, buf, "source", "kore", NULL);
	}
}

int
main(int argc, char **argv)
{
	struct wh_config	 cfg;
	struct wh_caps		 caps;
	struct sigaction	 sa;
	struct wh_wire		*c;
	const char		*names[5], *values[5], *kore;
	char			 dir[PATH_MAX], tmpl[PATH_MAX + 32];
	char			 module[PATH_MAX + 32], tmpdir[PATH_MAX];
	char			 conf[PATH_MAX + 32], pidfile[PATH_MAX + 32];
	char			 korebin[PATH_MAX + 32];
	char			 workers[16];
	const char		*tmp;
	int			 pfd[2], status;
	pid_t			 pid;

	wh_log_init("api", WH_LOG_INFO);
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		(void)printf("webhooks-api %s\n", WH_VERSION);
		return (0);
	}
	if (argc > 2 || (argc == 2 &&
	    strcmp(argv[1], "--reencrypt-secrets") != 0)) {
		(void)fprintf(stderr, "usage: webhooks-api [--reencrypt-secrets]"
		    " (configured by WH_* environment variables; see README)\n"
		    "       webhooks-api --version\n");
		return (2);
	}
	wh_config_start(&cfg, &caps, "api");
	c = wh_redis_reach(&cfg.redis, REDIS_CONNECT_TIMEOUT_S);
	if (argc == 2) {
		status = launcher_reencrypt(c, &cfg);
		wh_wire_free(c);
		return (status);
	}
	bootstrap_key(c, &cfg);
	wh_wire_free(c);

	self_dir(dir, sizeof(dir));
	(void)snprintf(tmpl, sizeof(tmpl), "%s/webhooks-api.conf", dir);
	(void)snprintf(module, sizeof(module), "%s/webhooks-api.so", dir);
	if (access(module, R_OK) == -1)
		die("the api module is missing next to the launcher", "path",
		    module);
	if ((tmp = getenv("TMPDIR")) == NULL || *tmp == '\0')
		tmp = "/tmp";
	(void)snprintf(tmpdir, sizeof(tmpdir), "%s/webhooks-api.XXXXXX", tmp);
	if (mkdtemp(tmpdir) == NULL)
		die("cannot create a private temporary directory", "path", tmp);
	(void)snprintf(conf, sizeof(conf), "%s/kore.conf", tmpdir);
	(void)snprintf(pidfile, sizeof(pidfile), "%s/kore.pid", tmpdir);
	(void)snprintf(workers, sizeof(workers), "%d", cfg.api_workers);
	names[0] = "HOST"; values[0] = cfg.api_host;
	names[1] = "PORT"; values[1] = cfg.api_port;
	names[2] = "MODULE"; values[2] = module;
	names[3] = "WORKERS"; values[3] = workers;
	names[4] = "PIDFILE"; values[4] = pidfile;
	write_conf(tmpl, conf, names, values, 5);

	/* Our patched kore (api/kore/patches) is built beside the launcher. */
	if ((kore = getenv("WH_KORE_BIN")) == NULL || *kore == '\0') {
		(void)snprintf(korebin, sizeof(korebin), "%s/webhooks-kore",
		    dir);
		kore = korebin;
	}
	if (pipe2(pfd, O_CLOEXEC) == -1)
		die("pipe failed", NULL, NULL);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	(void)sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGHUP, &sa, NULL);

	if ((pid = fork()) == -1)
		die("fork failed", NULL, NULL);
	if (pid == 0) {
		if (dup2(pfd[1], STDOUT_FILENO) == -1)
			_exit(127);
		(void)execlp(kore, kore, "-f", "-n", "-r", "-q", "-c", conf,
		    (char *)NULL);
		wh_log(WH_LOG_ERROR, "cannot run kore (WH_KORE_BIN or "
		    "webhooks-kore beside the launcher)",
		    "kore", kore, NULL);
		_exit(127);
	}
	child_pid = pid;
	(void)close(pfd[1]);
	wh_log(WH_LOG_INFO, "api starting", "listen", cfg.api_host,
	    "port", cfg.api_port, "workers", workers, NULL);

	relay_lines(pfd[0]);
	(void)close(pfd[0]);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	(void)unlink(conf);
	(void)unlink(pidfile);
	(void)rmdir(tmpdir);

	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return (0);
	if (stopping && WIFSIGNALED(status))
		return (0);
	wh_log(WH_LOG_ERROR, "kore exited", "ended_by", WIFEXITED(status) ?
	    "exit" : "signal", NULL);
	return (1);
}
