/*
 * test_ids_time.c: random ids (prefix, length, alphabet, no repeats,
 * short buffers refused), derived event sids (a known value, stable,
 * different for a different company or entry), id validation, and the
 * RFC 3339 formatter and parser with known millisecond values, offsets,
 * fractions, calendar edges and malformed text.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ids.h"
#include "timeutil.h"

#define L(s)	s, sizeof(s) - 1
#define NIDS	2000

static int
cmp_str(const void *a, const void *b)
{
	return (strcmp(*(char *const *)a, *(char *const *)b));
}

static void
test_id_new(void **state)
{
	char	 id[WH_ID_MAX];
	char	**all;
	size_t	 i;

	(void)state;
	assert_int_equal(wh_id_new("wh_", id, sizeof(id)), 0);
	assert_int_equal(strlen(id), 3 + WH_ID_RAND_CHARS);
	assert_memory_equal(id, "wh_", 3);
	assert_int_equal(strspn(id + 3, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-_"), WH_ID_RAND_CHARS);
	assert_int_equal(wh_id_valid(id, strlen(id)), 1);

	/* 2000 ids, no two alike. */
	all = calloc(NIDS, sizeof(*all));
	assert_non_null(all);
	for (i = 0; i < NIDS; i++) {
		all[i] = malloc(WH_ID_MAX);
		assert_non_null(all[i]);
		assert_int_equal(wh_id_new("evt_", all[i], WH_ID_MAX), 0);
		assert_int_equal(strlen(all[i]), 4 + WH_ID_RAND_CHARS);
	}
	qsort(all, NIDS, sizeof(*all), cmp_str);
	for (i = 1; i < NIDS; i++)
		assert_string_not_equal(all[i - 1], all[i]);
	for (i = 0; i < NIDS; i++)
		free(all[i]);
	free(all);
}

/*
 * Random ids come from a per-process pool: a child forked after the
 * parent made ids (as Kore forks its workers) must not hand out the
 * parent's next ones.
 */
static void
test_id_new_fork(void **state)
{
	char	 mine[WH_ID_MAX], theirs[WH_ID_MAX];
	int	 fd[2], status;
	pid_t	 pid;
	ssize_t	 n;

	(void)state;
	assert_int_equal(wh_id_new("x_", mine, sizeof(mine)), 0);
	assert_int_equal(pipe(fd), 0);
	if ((pid = fork()) == 0) {
		if (wh_id_new("x_", theirs, sizeof(theirs)) == -1 ||
		    write(fd[1], theirs, strlen(theirs) + 1) == -1)
			_exit(1);
		_exit(0);
	}
	assert_true(pid > 0);
	close(fd[1]);
	n = read(fd[0], theirs, sizeof(theirs));
	close(fd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_true(n > 0 && theirs[n - 1] == '\0');
	assert_int_equal(wh_id_new("x_", mine, sizeof(mine)), 0);
	assert_string_not_equal(mine, theirs);
}

static void
test_id_new_bounds(void **state)
{
	char	id[WH_ID_MAX];

	(void)state;
	/* "sk_" + 22 + NUL = 26. */
	assert_int_equal(wh_id_new("sk_", id, 26), 0);
	assert_int_equal(strlen(id), 25);
	assert_int_equal(wh_id_new("sk_", id, 25), -1);
	assert_int_equal(wh_id_new("", id, 23), 0);
	assert_int_equal(strlen(id), 22);
	assert_int_equal(wh_id_new("", id, 22), -1);
}

/*
 * A generated secret: 43 URL-safe base64 chars (32 bytes), a fresh one
 * each time, refused when the buffer has no room for it and its NUL.
 */
static void
test_secret_new(void **state)
{
	char	a[WH_SECRET_LEN + 1], b[WH_SECRET_LEN + 1];
	size_t	i;

	(void)state;
	assert_int_equal(wh_secret_new(a, sizeof(a)), 0);
	assert_int_equal(strlen(a), WH_SECRET_LEN);
	for (i = 0; i < WH_SECRET_LEN; i++)
		assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789-_", a[i]));
	assert_int_equal(wh_secret_new(b, sizeof(b)), 0);
	assert_string_not_equal(a, b);
	assert_int_equal(wh_secret_new(b, WH_SECRET_LEN), -1);
}

static void
test_id_derived(void **state)
{
	char	a[WH_ID_MAX], b[WH_ID_MAX];

	(void)state;
	/* "evt_" + base64url(SHA-256("CO_123:1732780800123-0"))[0..22). */
	assert_int_equal(wh_id_event_derived("CO_123", "1732780800123-0", a,
	    sizeof(a)), 0);
	assert_string_equal(a, "evt_grid9HwB-wBjCV5WQQfsot");
	assert_int_equal(wh_id_valid(a, strlen(a)), 1);

	/* Stable. */
	assert_int_equal(wh_id_event_derived("CO_123", "1732780800123-0", b,
	    sizeof(b)), 0);
	assert_string_equal(a, b);

	/* Another company, another entry. */
	assert_int_equal(wh_id_event_derived("CO_124", "1732780800123-0", b,
	    sizeof(b)), 0);
	assert_string_equal(b, "evt_PGT836DIPnvFw5e3LNknPg");
	assert_int_equal(wh_id_event_derived("CO_123", "1732780800123-1", b,
	    sizeof(b)), 0);
	assert_string_not_equal(a, b);
	assert_int_equal(strlen(b), 26);

	/* The separator matters: "CO_1:23-0" is not "CO_12:3-0". */
	assert_int_equal(wh_id_event_derived("CO_1", "23-0", a, sizeof(a)),
	    0);
	assert_int_equal(wh_id_event_derived("CO_12", "3-0", b, sizeof(b)),
	    0);
	assert_string_not_equal(a, b);

	assert_int_equal(wh_id_event_derived("CO_1", "1-0", a, 27), 0);
	assert_int_equal(wh_id_event_derived("CO_1", "1-0", a, 26), -1);
}

static void
test_id_valid(void **state)
{
	char	s[WH_ID_MAX + 1];

	(void)state;
	assert_int_equal(wh_id_valid(L("wh_abc-DEF_123")), 1);
	assert_int_equal(wh_id_valid(L("a")), 1);
	assert_int_equal(wh_id_valid(L("")), 0);
	assert_int_equal(wh_id_valid(L("../etc")), 0);
	assert_int_equal(wh_id_valid(L("a/b")), 0);
	assert_int_equal(wh_id_valid(L("a.b")), 0);
	assert_int_equal(wh_id_valid(L("a b")), 0);
	assert_int_equal(wh_id_valid(L("a:b")), 0);
	assert_int_equal(wh_id_valid(L("a*")), 0);
	assert_int_equal(wh_id_valid(L("a\0b")), 0);
	assert_int_equal(wh_id_valid(L("caf\xc3\xa9")), 0);
	memset(s, 'x', sizeof(s));
	assert_int_equal(wh_id_valid(s, WH_ID_MAX - 1), 1);
	assert_int_equal(wh_id_valid(s, WH_ID_MAX), 0);
}

static void
check_fmt(int64_t ms, const char *want)
{
	char	out[WH_RFC3339_LEN + 1];

	memset(out, 'X', sizeof(out));
	assert_int_equal(wh_rfc3339_ms(ms, out), 0);
	assert_string_equal(out, want);
}

static void
test_rfc3339_format(void **state)
{
	char	out[WH_RFC3339_LEN + 1];

	(void)state;
	check_fmt(0, "1970-01-01T00:00:00.000Z");
	check_fmt(1795860020021LL, "2026-11-28T10:00:20.021Z");
	check_fmt(63108020021LL, "1972-01-01T10:00:20.021Z");
	check_fmt(1, "1970-01-01T00:00:00.001Z");
	check_fmt(999, "1970-01-01T00:00:00.999Z");
	check_fmt(1000, "1970-01-01T00:00:01.000Z");
	check_fmt(-1, "1969-12-31T23:59:59.999Z");
	check_fmt(-1000, "1969-12-31T23:59:59.000Z");
	check_fmt(-1001, "1969-12-31T23:59:58.999Z");
	check_fmt(1709208000000LL, "2024-02-29T12:00:00.000Z");
	check_fmt(253402300799999LL, "9999-12-31T23:59:59.999Z");
	check_fmt(-62167219200000LL, "0000-01-01T00:00:00.000Z");
	/* Five-digit and negative years do not fit the format. */
	assert_int_equal(wh_rfc3339_ms(253402300800000LL, out), -1);
	assert_int_equal(wh_rfc3339_ms(-62167219200001LL, out), -1);
	assert_int_equal(wh_rfc3339_ms(INT64_MAX, out), -1);
	assert_int_equal(wh_rfc3339_ms(INT64_MIN, out), -1);
}

/*
 * The formatter keeps the last second it formatted: stamps within one
 * second, a second back and forth, and a refused stamp between two of
 * the same second must all read as if formatted afresh.
 */
static void
test_rfc3339_second_cache(void **state)
{
	char	out[WH_RFC3339_LEN + 1];

	(void)state;
	check_fmt(1795860020021LL, "2026-11-28T10:00:20.021Z");
	check_fmt(1795860020999LL, "2026-11-28T10:00:20.999Z");
	check_fmt(1795860020000LL, "2026-11-28T10:00:20.000Z");
	check_fmt(1795860021000LL, "2026-11-28T10:00:21.000Z");
	check_fmt(1795860020500LL, "2026-11-28T10:00:20.500Z");
	assert_int_equal(wh_rfc3339_ms(253402300800000LL, out), -1);
	check_fmt(1795860020007LL, "2026-11-28T10:00:20.007Z");
	check_fmt(-1, "1969-12-31T23:59:59.999Z");
	check_fmt(-1000, "1969-12-31T23:59:59.000Z");
	check_fmt(1795860020042LL, "2026-11-28T10:00:20.042Z");
	/* Three seconds in turn through the two kept. */
	check_fmt(1795860020001LL, "2026-11-28T10:00:20.001Z");
	check_fmt(1795860021002LL, "2026-11-28T10:00:21.002Z");
	check_fmt(1795860022003LL, "2026-11-28T10:00:22.003Z");
	check_fmt(1795860020004LL, "2026-11-28T10:00:20.004Z");
	check_fmt(1795860022005LL, "2026-11-28T10:00:22.005Z");
	check_fmt(1795860021006LL, "2026-11-28T10:00:21.006Z");
	check_fmt(1795860021007LL, "2026-11-28T10:00:21.007Z");
	check_fmt(1795860020008LL, "2026-11-28T10:00:20.008Z");
}

static void
check_parse(const char *s, int64_t want)
{
	int64_t	ms = -12345;

	if (wh_rfc3339_parse(s, strlen(s), &ms) != 0)
		fail_msg("refused %s", s);
	if (ms != want)
		fail_msg("%s: got %lld, want %lld", s, (long long)ms,
		    (long long)want);
}

static void
test_rfc3339_parse(void **state)
{
	(void)state;
	check_parse("1970-01-01T00:00:00.000Z", 0);
	check_parse("1970-01-01T00:00:00Z", 0);
	check_parse("2026-11-28T10:00:20.021Z", 1795860020021LL);
	check_parse("2026-11-28t10:00:20.021z", 1795860020021LL);
	check_parse("1972-01-01T10:00:20.021Z", 63108020021LL);
	/* Fractions: fewer digits scale up, more are truncated. */
	check_parse("2026-11-28T10:00:20.5Z", 1795860020500LL);
	check_parse("2026-11-28T10:00:20.02Z", 1795860020020LL);
	check_parse("2026-11-28T10:00:20.0219999Z", 1795860020021LL);
	check_parse("2026-11-28T10:00:20Z", 1795860020000LL);
	/* Offsets. */
	check_parse("2026-11-28T12:00:20.021+02:00", 1795860020021LL);
	check_parse("2026-11-28T04:30:20.021-05:30", 1795860020021LL);
	check_parse("2026-11-28T10:00:20.021+00:00", 1795860020021LL);
	check_parse("2026-11-28T10:00:20.021-00:00", 1795860020021LL);
	check_parse("2026-11-29T09:59:20.021+23:59", 1795860020021LL);
	check_parse("1970-01-01T00:00:00.000+01:00", -3600000LL);
	/* Around the epoch and the calendar. */
	check_parse("1969-12-31T23:59:59Z", -1000);
	check_parse("1969-12-31T23:59:59.999Z", -1);
	check_parse("2024-02-29T12:00:00Z", 1709208000000LL);
	check_parse("2000-02-29T00:00:00Z", 951782400000LL);
	check_parse("9999-12-31T23:59:59.999Z", 253402300799999LL);
	/* A leap second folds into the next minute. */
	check_parse("2016-12-31T23:59:60Z", 1483228800000LL);
}

static void
test_rfc3339_roundtrip(void **state)
{
	char	out[WH_RFC3339_LEN + 1];
	int64_t	ms, back;

	(void)state;
	for (ms = -100000000000LL; ms < 4000000000000LL;
	    ms += 7777777777LL) {
		assert_int_equal(wh_rfc3339_ms(ms, out), 0);
		assert_int_equal(wh_rfc3339_parse(out, WH_RFC3339_LEN, &back),
		    0);
		assert_int_equal(back, ms);
	}
}

static void
test_rfc3339_invalid(void **state)
{
	static const char *const	bad[] = {
		"", "2026", "2026-11-28", "2026-11-28T10:00:20",
		"2026-11-28T10:00:20.021", "2026-11-28 10:00:20.021Z",
		"2026-11-28T10:00:20.Z", "2026-11-28T10:00:20.021ZZ",
		"2026-11-28T10:00:20.021Z ", " 2026-11-28T10:00:20.021Z",
		"2026-11-28T10:00:20,021Z", "26-11-28T10:00:20Z",
		"2026-1-28T10:00:20Z", "2026-11-8T10:00:20Z",
		"2026-11-28T1:00:20Z", "2026/11/28T10:00:20Z",
		"2026-13-01T00:00:00Z", "2026-00-01T00:00:00Z",
		"2026-11-00T00:00:00Z", "2026-11-31T00:00:00Z",
		"2026-02-29T00:00:00Z", "1900-02-29T00:00:00Z",
		"2026-04-31T00:00:00Z", "2026-11-28T24:00:00Z",
		"2026-11-28T10:60:00Z", "2026-11-28T10:00:61Z",
		"2026-11-28T10:00:20+02", "2026-11-28T10:00:20+0200",
		"2026-11-28T10:00:20+24:00", "2026-11-28T10:00:20+02:60",
		"2026-11-28T10:00:20+02:00Z", "2026-11-28T10:00:20 Z",
		"+2026-11-28T10:00:20Z", "2026-11-28T10:00:20.-1Z",
		"2026-11-28T10:00:20.1e3Z", "2026-11-28T10:00:20UTC",
		"2026-11-28T10:00:20.021+2:00", "2026-11-28T10:00:2xZ",
		"1795860020021",
	};
	size_t				i;
	int64_t				ms;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (wh_rfc3339_parse(bad[i], strlen(bad[i]), &ms) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
	}
	/* The length is honoured: a NUL or a cut is not the end. */
	assert_int_equal(wh_rfc3339_parse(L("2026-11-28T10:00:20Z\0"), &ms),
	    -1);
	assert_int_equal(wh_rfc3339_parse("2026-11-28T10:00:20.021Z", 23,
	    &ms), -1);
}

static void
test_clocks(void **state)
{
	int64_t	now, m1, m2;

	(void)state;
	now = wh_now_ms();
	/* After 2024-01-01 and before 2100-01-01. */
	assert_true(now > 1704067200000LL);
	assert_true(now < 4102444800000LL);
	m1 = wh_mono_ms();
	m2 = wh_mono_ms();
	assert_true(m1 > 0);
	assert_true(m2 >= m1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_id_new),
		cmocka_unit_test(test_id_new_fork),
		cmocka_unit_test(test_id_new_bounds),
		cmocka_unit_test(test_secret_new),
		cmocka_unit_test(test_id_derived),
		cmocka_unit_test(test_id_valid),
		cmocka_unit_test(test_rfc3339_format),
		cmocka_unit_test(test_rfc3339_second_cache),
		cmocka_unit_test(test_rfc3339_parse),
		cmocka_unit_test(test_rfc3339_roundtrip),
		cmocka_unit_test(test_rfc3339_invalid),
		cmocka_unit_test(test_clocks),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
