/*
 * test_entry.c: stream entries of the public format as the dispatcher
 * reads them (dispatcher/entry.c): a good entry, defaults for event_sid
 * and ts, and what is dead-lettered instead: a field given twice, a name
 * that only starts like ours, a NUL in a value, and a ts that is not a
 * plain, deliverable millisecond count (what fuzz_stream checks).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dispatch.h"

#define NMAX	16

struct fake_entry {
	redisReply	 fields;
	redisReply	*elem[NMAX];
	redisReply	 item[NMAX];
};

/* An entry of n strings given as (bytes, length) pairs. */
static void
entry_make(struct fake_entry *e, size_t n, ...)
{
	va_list	ap;
	size_t	i;

	assert_true(n <= NMAX);
	memset(e, 0, sizeof(*e));
	e->fields.type = REDIS_REPLY_ARRAY;
	e->fields.elements = n;
	e->fields.element = e->elem;
	va_start(ap, n);
	for (i = 0; i < n; i++) {
		e->item[i].type = REDIS_REPLY_STRING;
		e->item[i].str = va_arg(ap, char *);
		e->item[i].len = va_arg(ap, size_t);
		e->elem[i] = &e->item[i];
	}
	va_end(ap);
}

#define S(s)	(s), sizeof(s) - 1

/* Parse e as an entry of wh:{0}:events; the event is left in ev. */
static const char *
parse(struct fake_entry *e, const char *id, struct wh_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	return (entry_event_parse(ev, id, &e->fields, 1024));
}

static void
test_good(void **state)
{
	struct fake_entry	e;
	struct wh_event	ev;

	(void)state;
	entry_make(&e, 10, S("company_sid"), S("CO_123"), S("event_type"),
	    S("call.ended"), S("payload"), S("{\"call_sid\":\"CA_9\"}"),
	    S("event_sid"), S("evt_1"), S("ts"), S("1732780800123"));
	assert_null(parse(&e, "1732780800999-0", &ev));
	assert_string_equal(ev.company_sid, "CO_123");
	assert_string_equal(ev.event_type, "call.ended");
	assert_string_equal(ev.payload, "{\"call_sid\":\"CA_9\"}");
	assert_string_equal(ev.event_sid, "evt_1");
	assert_true(ev.created_at == 1732780800123LL);
	wh_event_free(&ev);

	/* Without event_sid and ts: derived sid, the entry id's time. */
	entry_make(&e, 8, S("trace"), S("x"), S("company_sid"), S("CO_123"),
	    S("event_type"), S("call.ended"), S("payload"), S("[1]"));
	assert_null(parse(&e, "1732780800999-0", &ev));
	assert_memory_equal(ev.event_sid, "evt_", 4);
	assert_true(ev.created_at == 1732780800999LL);
	wh_event_free(&ev);
}

static void
test_refused(void **state)
{
	struct fake_entry	e;
	struct wh_event	ev;

	(void)state;
	/* One of our fields twice: readers would disagree on which. */
	entry_make(&e, 8, S("company_sid"), S("CO_1"), S("company_sid"),
	    S("CO_2"), S("event_type"), S("a"), S("payload"), S("1"));
	assert_non_null(parse(&e, "1-0", &ev));
	wh_event_free(&ev);
	entry_make(&e, 10, S("company_sid"), S("CO_1"), S("event_type"),
	    S("a"), S("payload"), S("1"), S("ts"), S("5"), S("ts"), S("6"));
	assert_non_null(parse(&e, "1-0", &ev));
	wh_event_free(&ev);

	/* "company_sid\0x" is another field, not company_sid. */
	entry_make(&e, 6, S("company_sid\0x"), S("CO_1"), S("event_type"),
	    S("a"), S("payload"), S("1"));
	assert_non_null(parse(&e, "1-0", &ev));
	wh_event_free(&ev);

	/* A NUL in a value: event_sid was silently replaced before. */
	entry_make(&e, 8, S("company_sid"), S("CO_1"), S("event_type"),
	    S("a"), S("payload"), S("1"), S("event_sid"), S("evt_1\0x"));
	assert_non_null(parse(&e, "1-0", &ev));
	wh_event_free(&ev);
}

static void
test_ts(void **state)
{
	static const char *const bad[] = {
		" 5", "+5", "5 ", "-5", "0", "0x10", "1e3",
		"99999999999999999999",		/* was LLONG_MAX */
		"253402300800000",		/* year 10000: no RFC 3339 */
	};
	struct fake_entry	e;
	struct wh_event	ev;
	size_t		i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		entry_make(&e, 8, S("company_sid"), S("CO_1"),
		    S("event_type"), S("a"), S("payload"), S("1"), S("ts"),
		    bad[i], strlen(bad[i]));
		assert_non_null(parse(&e, "1-0", &ev));
		wh_event_free(&ev);
	}
	entry_make(&e, 8, S("company_sid"), S("CO_1"), S("event_type"),
	    S("a"), S("payload"), S("1"), S("ts"), S("253402300799999"));
	assert_null(parse(&e, "1-0", &ev));
	assert_true(ev.created_at == 253402300799999LL);
	wh_event_free(&ev);

	/* An explicit entry id far in the future: the time of receipt. */
	entry_make(&e, 6, S("company_sid"), S("CO_1"), S("event_type"),
	    S("a"), S("payload"), S("1"));
	assert_null(parse(&e, "99999999999999999-0", &ev));
	assert_true(ev.created_at > 1700000000000LL &&
	    ev.created_at < 253402300800000LL);
	wh_event_free(&ev);
}

int
main(void)
{
	const struct CMUnitTest	tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_ts),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
