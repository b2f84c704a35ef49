/*
 * test_config_vars.c: the WH_* table of common/config_vars.h is what the
 * programs enforce and what docs/operations.md shows.
 *
 * - Every variable's row of the docs' configuration table is exactly the
 *   row printed from the table, and the docs list no other WH_ row.
 * - Every whole-number variable is refused one below and one above its
 *   range with an error naming it, accepted at both ends, and takes the
 *   table's default when unset.
 *
 * "test_config_vars --print-table" prints the docs' table, to paste into
 * docs/operations.md after changing config_vars.h.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "docs_file.h"

#include "config.h"
#include "config_vars.h"

#define OPERATIONS_MD	"operations.md"
#define ROW_MAX		2048

static const char table_head[] =
    "| variable | default | accepted | read by | meaning |\n"
    "|---|---|---|---|---|\n";

/* The docs' row of one variable, without its newline. */
static void
format_row(const struct wh_config_var *v, char *out, size_t len)
{
	char	def[256], acc[512];

	if (v->is_int) {
		if (v->def >= v->lo)
			(void)snprintf(def, sizeof(def), "`%ld`%s%s%s", v->def,
			    v->def_note ? " (" : "",
			    v->def_note ? v->def_note : "",
			    v->def_note ? ")" : "");
		else
			(void)snprintf(def, sizeof(def), "%s", v->def_note);
		(void)snprintf(acc, sizeof(acc), "%ld–%ld", v->lo, v->hi);
	} else {
		if (v->def_str != NULL)
			(void)snprintf(def, sizeof(def), "`%s`%s%s%s",
			    v->def_str, v->def_note ? " (" : "",
			    v->def_note ? v->def_note : "",
			    v->def_note ? ")" : "");
		else
			(void)snprintf(def, sizeof(def), "unset%s%s%s",
			    v->def_note ? " (" : "",
			    v->def_note ? v->def_note : "",
			    v->def_note ? ")" : "");
		(void)snprintf(acc, sizeof(acc), "%s", v->accepted);
	}
	(void)snprintf(out, len, "| `%s` | %s | %s | %s | %s |", v->name, def,
	    acc, v->read_by, v->meaning);
}

static void
print_table(void)
{
	char	row[ROW_MAX];
	size_t	i;

	fputs(table_head, stdout);
	for (i = 0; i < wh_config_nvars; i++) {
		format_row(&wh_config_vars[i], row, sizeof(row));
		printf("%s\n", row);
	}
}

static void
test_docs_rows(void **state)
{
	char		 row[ROW_MAX], *doc, *line, *nl;
	size_t		 i, rows = 0, len;
	int		 found;

	(void)state;
	doc = docs_file_read(OPERATIONS_MD, &len);
	if (strstr(doc, table_head) == NULL)
		fail_msg("%s has no table headed \"%.50s\"", OPERATIONS_MD,
		    table_head);
	for (i = 0; i < wh_config_nvars; i++) {
		format_row(&wh_config_vars[i], row, sizeof(row));
		len = strlen(row);
		found = 0;
		for (line = doc; line != NULL && *line != '\0'; line = nl) {
			nl = strchr(line, '\n');
			if ((nl ? (size_t)(nl - line) : strlen(line)) == len &&
			    memcmp(line, row, len) == 0)
				found++;
			if (nl != NULL)
				nl++;
		}
		if (found != 1)
			fail_msg("%s: the row of %s must appear once, as "
			    "printed by test_config_vars --print-table:\n%s",
			    OPERATIONS_MD, wh_config_vars[i].name, row);
	}
	for (line = doc; line != NULL && *line != '\0'; line = nl) {
		if (strncmp(line, "| `WH_", 6) == 0)
			rows++;
		if ((nl = strchr(line, '\n')) != NULL)
			nl++;
	}
	if (rows != wh_config_nvars)
		fail_msg("%s has %zu WH_ rows, the table %zu variables",
		    OPERATIONS_MD, rows, wh_config_nvars);
	free(doc);
}

static void
unset_all(void)
{
	size_t	i;

	for (i = 0; i < wh_config_nvars; i++)
		assert_int_equal(unsetenv(wh_config_vars[i].name), 0);
}

/* 0 when the program accepts name=value, -1 with err naming it. */
static int
load_with(const char *name, long value, char *err, size_t errlen)
{
	static struct wh_config	cfg;
	struct wh_caps		caps;
	char			num[32];
	int			rc;

	unset_all();
	(void)snprintf(num, sizeof(num), "%ld", value);
	assert_int_equal(setenv(name, num, 1), 0);
	err[0] = '\0';
	if (strcmp(name, "WH_MAX_WEBHOOKS_PER_COMPANY") == 0)
		rc = wh_caps_load(&caps, err, errlen);
	else
		rc = wh_config_load(&cfg, err, errlen);
	unset_all();
	return (rc);
}

static void
test_int_ranges(void **state)
{
	const struct wh_config_var	*v;
	char				 err[512];
	size_t				 i, n = 0;

	(void)state;
	for (i = 0; i < wh_config_nvars; i++) {
		v = &wh_config_vars[i];
		if (!v->is_int)
			continue;
		n++;
		if (load_with(v->name, v->lo - 1, err, sizeof(err)) != -1 ||
		    strstr(err, v->name) == NULL)
			fail_msg("%s=%ld is not refused by name", v->name,
			    v->lo - 1);
		if (load_with(v->name, v->hi + 1, err, sizeof(err)) != -1 ||
		    strstr(err, v->name) == NULL)
			fail_msg("%s=%ld is not refused by name", v->name,
			    v->hi + 1);
		if (load_with(v->name, v->lo, err, sizeof(err)) != 0)
			fail_msg("%s=%ld is refused: %s", v->name, v->lo, err);
		if (load_with(v->name, v->hi, err, sizeof(err)) != 0)
			fail_msg("%s=%ld is refused: %s", v->name, v->hi, err);
	}
	assert_true(n >= 10);
}

/* What the loaded configuration holds for a whole-number variable. */
static long
int_value(const struct wh_config *c, const struct wh_caps *caps,
    const char *name)
{
	static const struct {
		const char	*name;
		size_t		 off;
		size_t		 size;
	} f[] = {
#define F(n, m)	{ #n, offsetof(struct wh_config, m), \
		    sizeof(((struct wh_config *)0)->m) }
		F(WH_API_WORKERS, api_workers),
		F(WH_AUTH_FAILURES_MAX, auth_fail_max),
		F(WH_DISPATCH_CONCURRENCY, concurrency),
		F(WH_DISPATCH_BATCH, read_batch),
		F(WH_REDIS_WAIT_REPLICAS, wait_replicas),
		F(WH_PARTITIONS, partitions),
		F(WH_EVENT_MAX_BYTES, event_max),
		F(WH_ENDPOINT_CONCURRENCY, endpoint_concurrency),
		F(WH_CLAIM_IDLE_MS, claim_idle_ms),
		F(WH_DRAIN_MS, drain_ms),
		F(WH_ATTEMPTS_MAXLEN, attempts_maxlen),
		F(WH_DEAD_MAXLEN, dead_maxlen),
		F(WH_ATTEMPTS_MAX_AGE_MS, attempts_max_age_ms),
		F(WH_DEAD_MAX_AGE_MS, dead_max_age_ms),
		F(WH_EVENT_ATTEMPTS_TTL_MS, event_attempts_ttl_ms),
		F(WH_EVENT_RETENTION_MS, event_retention_ms),
		F(WH_DISABLE_AFTER_MS, disable_after_ms),
#undef F
	};
	const char	*p;
	size_t		 i;

	if (strcmp(name, "WH_MAX_WEBHOOKS_PER_COMPANY") == 0)
		return (caps->max_webhooks);
	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		if (strcmp(f[i].name, name) != 0)
			continue;
		p = (const char *)c + f[i].off;
		if (f[i].size == sizeof(int))
			return (*(const int *)(const void *)p);
		return (*(const long *)(const void *)p);
	}
	fail_msg("%s: add it to int_value() in this test", name);
	return (0);
}

static void
test_int_defaults(void **state)
{
	const struct wh_config_var	*v;
	static struct wh_config		 cfg;
	struct wh_caps			 caps;
	char				 err[512];
	size_t				 i;

	(void)state;
	unset_all();
	if (wh_config_load(&cfg, err, sizeof(err)) != 0)
		fail_msg("defaults refused: %s", err);
	assert_int_equal(wh_caps_load(&caps, err, sizeof(err)), 0);
	for (i = 0; i < wh_config_nvars; i++) {
		v = &wh_config_vars[i];
		if (!v->is_int || v->def < v->lo)
			continue;
		if (int_value(&cfg, &caps, v->name) != v->def)
			fail_msg("%s defaults to %ld, the table says %ld",
			    v->name, int_value(&cfg, &caps, v->name), v->def);
	}
}

int
main(int argc, char *argv[])
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_docs_rows),
		cmocka_unit_test(test_int_ranges),
		cmocka_unit_test(test_int_defaults),
	};

	if (argc == 2 && strcmp(argv[1], "--print-table") == 0) {
		print_table();
		return (0);
	}
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
