/*
 * test_log_fields.c: the log field table (common/log_fields.h) is what
 * wh_log writes and what docs/logging.md shows.
 *
 * - The table is sorted (binary search), its names unique and lower
 *   snake_case.
 * - Every row of docs/logging.md's field table is the row printed from
 *   the table, and it has no other.
 * - A number or boolean field is written bare when its value is one, as
 *   a string otherwise; every line is valid JSON either way.
 *
 * "test_log_fields --print-table" prints the docs' table, to paste into
 * docs/logging.md after changing log_fields.h. (tests/e2e/
 * docs-contract.test.js checks that every field name the code passes to
 * wh_log is in the table.)
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "docs_file.h"

#include "log.h"
#include "log_fields.h"

#define LOGGING_MD	"logging.md"

static const char table_head[] =
    "| field | type | meaning |\n"
    "|---|---|---|\n";
static const char *const type_names[] = { "string", "number", "boolean" };

static void
format_row(const struct wh_log_field *f, char *out, size_t len)
{
	(void)snprintf(out, len, "| `%s` | %s | %s |", f->name,
	    type_names[f->type], f->meaning);
}

static void
print_table(void)
{
	char	row[1024];
	size_t	i;

	fputs(table_head, stdout);
	for (i = 0; i < wh_log_nfields; i++) {
		format_row(&wh_log_fields[i], row, sizeof(row));
		printf("%s\n", row);
	}
}

static void
test_sorted(void **state)
{
	const char	*n;
	size_t		 i;

	(void)state;
	for (i = 0; i < wh_log_nfields; i++) {
		n = wh_log_fields[i].name;
		if (strspn(n, "abcdefghijklmnopqrstuvwxyz0123456789_") !=
		    strlen(n) || n[0] < 'a' || n[0] > 'z')
			fail_msg("log field \"%s\" is not lower snake_case", n);
		if (i > 0 && strcmp(wh_log_fields[i - 1].name, n) >= 0)
			fail_msg("log_fields.h: \"%s\" must come before \"%s\"",
			    n, wh_log_fields[i - 1].name);
		assert_ptr_equal(wh_log_field(n), &wh_log_fields[i]);
	}
	assert_null(wh_log_field("no_such_field"));
}

static void
test_docs_rows(void **state)
{
	char	 row[1024], *doc, *line, *nl;
	size_t	 i, len, rows = 0;

	(void)state;
	doc = docs_file_read(LOGGING_MD, &len);
	if (strstr(doc, table_head) == NULL)
		fail_msg("%s has no table headed \"%.30s\"", LOGGING_MD,
		    table_head);
	for (i = 0; i < wh_log_nfields; i++) {
		format_row(&wh_log_fields[i], row, sizeof(row));
		if ((line = strstr(doc, row)) == NULL ||
		    (line != doc && line[-1] != '\n') ||
		    line[strlen(row)] != '\n')
			fail_msg("%s: the row of %s must be, as printed by "
			    "test_log_fields --print-table:\n%s", LOGGING_MD,
			    wh_log_fields[i].name, row);
	}
	for (line = doc; line != NULL && *line != '\0'; line = nl) {
		if (strncmp(line, "| `", 3) == 0)
			rows++;
		if ((nl = strchr(line, '\n')) != NULL)
			nl++;
	}
	if (rows != wh_log_nfields)
		fail_msg("%s has %zu field rows, the table %zu fields",
		    LOGGING_MD, rows, wh_log_nfields);
	free(doc);
}

static void
test_is_number(void **state)
{
	static const char *const yes[] = { "0", "201", "-1", "0.5", "-0.5e3",
	    "1E+2", "12345678901234567890" };
	static const char *const no[] = { "", "-", "01", "1.", ".5", "1e",
	    "0x10", "201 ", " 201", "NaN", "inf", "1,2", "+1", "true" };
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (!wh_log_is_number(yes[i]))
			fail_msg("\"%s\" is a JSON number", yes[i]);
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (wh_log_is_number(no[i]))
			fail_msg("\"%s\" is not a JSON number", no[i]);
}

/* One wh_log line, as written on stderr. */
static void
one_line(char *out, size_t len, const char *k1, const char *v1,
    const char *k2, const char *v2)
{
	int	p[2], saved;
	ssize_t	n;

	assert_int_equal(pipe(p), 0);
	saved = dup(STDERR_FILENO);
	assert_true(dup2(p[1], STDERR_FILENO) != -1);
	wh_log(WH_LOG_INFO, "m", k1, v1, k2, v2, NULL);
	assert_true(dup2(saved, STDERR_FILENO) != -1);
	(void)close(saved);
	(void)close(p[1]);
	n = read(p[0], out, len - 1);
	(void)close(p[0]);
	assert_true(n > 0);
	out[n] = '\0';
}

static void
test_typed_values(void **state)
{
	char	line[1024];

	(void)state;
	wh_log_init("test", WH_LOG_INFO);
	one_line(line, sizeof(line), "status", "201", "duration_ms", "12");
	assert_non_null(strstr(line, ",\"status\":201,\"duration_ms\":12}"));
	/* Not a number after all: a string, never bare text. */
	one_line(line, sizeof(line), "status", "20x", "attempt", "-0");
	assert_non_null(strstr(line, ",\"status\":\"20x\",\"attempt\":-0}"));
	/* A string field stays a string, digits or not. */
	one_line(line, sizeof(line), "event_sid", "123", "port", "6379");
	assert_non_null(strstr(line, ",\"event_sid\":\"123\",\"port\":6379}"));
	/* A name the table lacks: a string. */
	one_line(line, sizeof(line), "not_listed", "7", "error", "a\"b");
	assert_non_null(strstr(line, ",\"not_listed\":\"7\","
	    "\"error\":\"a\\\"b\"}"));
}

int
main(int argc, char *argv[])
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sorted),
		cmocka_unit_test(test_docs_rows),
		cmocka_unit_test(test_is_number),
		cmocka_unit_test(test_typed_values),
	};

	if (argc == 2 && strcmp(argv[1], "--print-table") == 0) {
		print_table();
		return (0);
	}
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
