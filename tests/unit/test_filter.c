/*
 * test_filter.c: payload filters (common/filter.c): each operator on
 * each kind of value, paths through members and array indexes, escaped
 * strings compared as decoded text, numbers compared as numbers, and
 * refused filters naming the offset and JSON pointer of the fault.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "filter.h"

static struct wh_filter	F;

static const char PAYLOAD[] =
    "{\"call\":{\"sid\":\"CA1\",\"duration\":42.5,\"tags\":[\"vip\","
    "\"eu\"],\"legs\":[{\"to\":\"+15550100\"},{\"to\":\"+4930\"}]},"
    "\"status\":\"compl\\u0065ted\",\"retries\":0,\"ok\":true,"
    "\"none\":null,\"big\":1e3,\"a.b\":1,\"neg\":-7}";

struct mcase {
	const char	*src;
	const char	*event_type;
	int		 want;
};

/* Compile each filter (must succeed) and match it against PAYLOAD. */
static void
run(const struct mcase *c, size_t n)
{
	struct wh_filter_err	err;
	size_t			i;
	int			got;

	for (i = 0; i < n; i++) {
		if (wh_filter_compile(c[i].src, strlen(c[i].src), &F,
		    &err) != 0) {
			print_error("compile %s: %s at %zu (%s)\n", c[i].src,
			    err.reason, err.offset, err.pointer);
			fail();
		}
		got = wh_filter_match(&F, c[i].event_type,
		    strlen(c[i].event_type), PAYLOAD, sizeof(PAYLOAD) - 1);
		if (got != c[i].want) {
			print_error("%s on %s: %d\n", c[i].src,
			    c[i].event_type, got);
			fail();
		}
	}
}

#define RUN(c)	run((c), sizeof(c) / sizeof((c)[0]))

/* event_type: equality, prefix, in, exists. */
static void
test_event_type(void **state)
{
	static const struct mcase	c[] = {
		{ "{\"eq\":[\"event_type\",\"call.ended\"]}", "call.ended", 1 },
		{ "{\"eq\":[\"event_type\",\"call.ended\"]}", "call.ende", 0 },
		{ "{\"eq\":[\"event_type\",\"call.ende\"]}", "call.ended", 0 },
		{ "{\"prefix\":[\"event_type\",\"call.\"]}",
		    "call.started", 1 },
		{ "{\"prefix\":[\"event_type\",\"call.\"]}",
		    "artifact.ready", 0 },
		{ "{\"in\":[\"event_type\",[\"a\",\"call.x\"]]}", "call.x", 1 },
		{ "{\"in\":[\"event_type\",[\"a\",\"b\"]]}", "call.x", 0 },
		{ "{\"exists\":\"event_type\"}", "x", 1 },
	};

	RUN(c);
}

/* Paths: members, indexes, the array form; absent is not an error. */
static void
test_payload_paths(void **state)
{
	static const struct mcase	c[] = {
		{ "{\"eq\":[\"payload.call.sid\",\"CA1\"]}", "e", 1 },
		{ "{\"eq\":[\"payload.call.sid\",\"CA2\"]}", "e", 0 },
		{ "{\"eq\":[\"payload.call.tags[1]\",\"eu\"]}", "e", 1 },
		{ "{\"eq\":[\"payload.call.tags[2]\",\"eu\"]}", "e", 0 },
		{ "{\"prefix\":[\"payload.call.legs[1].to\",\"+49\"]}",
		    "e", 1 },
		{ "{\"prefix\":[[\"payload\",\"call\",\"legs\",0,\"to\"],"
		    "\"+49\"]}",
		    "e", 0 },
		{ "{\"eq\":[[\"payload\",\"a.b\"],1]}", "e", 1 },
		{ "{\"exists\":\"payload.a.b\"}", "e", 0 },
		{ "{\"exists\":\"payload.none\"}", "e", 1 },
		{ "{\"exists\":\"payload.nope\"}", "e", 0 },
		{ "{\"exists\":\"payload.retries.x\"}", "e", 0 },
		{ "{\"exists\":\"payload.call[0]\"}", "e", 0 },
		{ "{\"exists\":\"payload\"}", "e", 1 },
	};

	RUN(c);
}

/* Escaped strings compare decoded; numbers as numbers; true, false, null. */
static void
test_values(void **state)
{
	static const struct mcase	c[] = {
		{ "{\"eq\":[\"payload.status\",\"completed\"]}", "e", 1 },
		{ "{\"eq\":[\"payload.status\",\"c\\u006fmpleted\"]}", "e", 1 },
		{ "{\"prefix\":[\"payload.status\",\"complet\"]}", "e", 1 },
		{ "{\"prefix\":[\"payload.status\",\"completed!\"]}", "e", 0 },
		{ "{\"eq\":[\"payload.status\",\"complete\"]}", "e", 0 },
		{ "{\"eq\":[\"payload.big\",1000]}", "e", 1 },
		{ "{\"eq\":[\"payload.big\",\"1e3\"]}", "e", 0 },
		{ "{\"gt\":[\"payload.call.duration\",30]}", "e", 1 },
		{ "{\"gt\":[\"payload.call.duration\",42.5]}", "e", 0 },
		{ "{\"ge\":[\"payload.call.duration\",42.5]}", "e", 1 },
		{ "{\"lt\":[\"payload.neg\",-6.5]}", "e", 1 },
		{ "{\"le\":[\"payload.neg\",-8]}", "e", 0 },
		{ "{\"lt\":[\"payload.status\",100]}", "e", 0 },
		{ "{\"gt\":[\"payload.status\",-100]}", "e", 0 },
		{ "{\"eq\":[\"payload.ok\",true]}", "e", 1 },
		{ "{\"eq\":[\"payload.ok\",false]}", "e", 0 },
		{ "{\"eq\":[\"payload.none\",null]}", "e", 1 },
		{ "{\"eq\":[\"payload.retries\",null]}", "e", 0 },
		{ "{\"in\":[\"payload.retries\",[\"0\",0]]}", "e", 1 },
		{ "{\"in\":[\"payload.retries\",[\"0\",1]]}", "e", 0 },
	};

	RUN(c);
}

/* and, or, not, nesting, and JSON spelled in other ways. */
static void
test_logic(void **state)
{
	static const struct mcase	c[] = {
		{ "{\"and\":[{\"eq\":[\"event_type\",\"call.ended\"]},{\""
		    "gt\":[\"payload.call.duration\",30]}]}",
		    "call.ended", 1 },
		{ "{\"and\":[{\"eq\":[\"event_type\",\"call.ended\"]},{\""
		    "gt\":[\"payload.call.duration\",30]}]}",
		    "call.started", 0 },
		{ "{\"or\":[{\"eq\":[\"event_type\",\"x\"]},{\"eq\":[\"ev"
		    "ent_type\",\"y\"]}]}",
		    "y", 1 },
		{ "{\"or\":[{\"eq\":[\"event_type\",\"x\"]},{\"eq\":[\"ev"
		    "ent_type\",\"y\"]}]}",
		    "z", 0 },
		{ "{\"not\":{\"eq\":[\"event_type\",\"x\"]}}", "x", 0 },
		{ "{\"not\":{\"eq\":[\"event_type\",\"x\"]}}", "y", 1 },
		{ "{\"and\":[{\"or\":[{\"exists\":\"payload.nope\"},{\"ex"
		    "ists\":\"payload.ok\"}]},{\"not\":{\"exists\":\"payloa"
		    "d.nope\"}},{\"eq\":[\"event_type\",\"e\"]}]}",
		    "e", 1 },
		{ "{\"and\":[{\"or\":[{\"exists\":\"payload.nope\"},{\"ex"
		    "ists\":\"payload.ok\"}]},{\"not\":{\"exists\":\"payloa"
		    "d.nope\"}},{\"eq\":[\"event_type\",\"f\"]}]}",
		    "e", 0 },
		{ " { \"e\\u0071\" : [ \"event_type\" , \"e\" ] } ", "e", 1 },
	};

	RUN(c);
}

static void
refused(const char *src, size_t offset, const char *pointer)
{
	struct wh_filter_err	err;

	memset(&err, 0, sizeof(err));
	if (wh_filter_compile(src, strlen(src), &F, &err) != -1) {
		print_error("accepted %s\n", src);
		fail();
	}
	assert_non_null(err.reason);
	if (err.offset != offset || strcmp(err.pointer, pointer) != 0) {
		print_error("%s: %s at %zu (%s)\n", src, err.reason,
		    err.offset, err.pointer);
		fail();
	}
	assert_int_equal(F.nnode, 0);
}

static void
test_refused(void **state)
{
	char	deep[512], wide[2048], big[5000];
	int	i, n;

	refused("", 0, "");
	refused("{\"eq\":[\"event_type\",\"x\"]", 0, "");
	refused("[]", 0, "");
	refused("{}", 0, "");
	refused("{\"equals\":[\"event_type\",\"x\"]}", 1, "");
	refused("{\"eq\":[\"event_type\",\"x\"],\"ne\":1}", 24, "");
	refused("{\"eq\":1,\"eq\":2}", 1, "");
	refused("{\"eq\":[\"payload.x\"]}", 6, "/eq");
	refused("{\"eq\":[\"body.x\",1]}", 7, "/eq/0");
	refused("{\"eq\":[\"payload..x\",1]}", 7, "/eq/0");
	refused("{\"eq\":[\"payload.x[1\",1]}", 7, "/eq/0");
	refused("{\"eq\":[\"payload.x]\",1]}", 7, "/eq/0");
	refused("{\"eq\":[\"event_type.x\",\"a\"]}", 7, "/eq/0");
	refused("{\"eq\":[\"event_type\",1]}", 20, "/eq/1");
	refused("{\"eq\":[\"payload.x\",[1]]}", 19, "/eq/1");
	refused("{\"eq\":[\"payload.x\",{}]}", 19, "/eq/1");
	refused("{\"gt\":[\"payload.x\",\"5\"]}", 19, "/gt/1");
	refused("{\"gt\":[\"payload.x\",1e999]}", 19, "/gt/1");
	refused("{\"prefix\":[\"payload.x\",5]}", 23, "/prefix/1");
	refused("{\"in\":[\"payload.x\",[]]}", 19, "/in/1");
	refused("{\"in\":[\"payload.x\",[1,[2]]]}", 22, "/in/1/1");
	refused("{\"eq\":[[\"payload\",-1],1]}", 18, "/eq/0/1");
	refused("{\"eq\":[[\"payload\",1.5],1]}", 18, "/eq/0/1");
	refused("{\"eq\":[[\"payload\",true],1]}", 18, "/eq/0/1");
	refused("{\"eq\":[[\"pay\"],1]}", 8, "/eq/0/0");
	refused("{\"eq\":[\"payload.x\",\"\\u0000\"]}", 19, "/eq/1");
	refused("{\"and\":[]}", 7, "/and");
	refused("{\"and\":[{\"exists\":\"payload\"},{\"or\":[{\"x\":1}]}]}",
	    37, "/and/1/or/0");
	refused("{\"not\":{\"exists\":\"payload.a/b~c\"},\"x\":1}", 33, "");
	refused("{\"not\":{\"exists\":[\"payload\",\"a\",{}]}}", 32,
	    "/not/exists/2");
	refused("{\"exists\":\"payload\",\"exists\":\"payload\"}", 1, "");

	/* Nine levels of not: one too deep. */
	n = 0;
	for (i = 0; i < 9; i++)
		n += snprintf(deep + n, sizeof(deep) - n, "{\"not\":");
	n += snprintf(deep + n, sizeof(deep) - n, "{\"exists\":\"payload\"}");
	for (i = 0; i < 9; i++)
		deep[n++] = '}';
	deep[n] = '\0';
	refused(deep, 56, "/not/not/not/not/not/not/not/not");
	deep[7] = ' ';
	deep[n - 1] = ' ';
	assert_int_equal(wh_filter_compile(deep, n, &F, NULL), -1);

	/* 33 operands of and: one too many. */
	n = snprintf(wide, sizeof(wide), "{\"and\":[");
	for (i = 0; i < 33; i++)
		n += snprintf(wide + n, sizeof(wide) - n, "%s{\"exists\":"
		    "\"payload\"}", i ? "," : "");
	n += snprintf(wide + n, sizeof(wide) - n, "]}");
	refused(wide, 7, "/and");

	/* More than 4096 bytes. */
	memset(big, ' ', sizeof(big));
	memcpy(big, "{\"exists\":\"payload\"}", 20);
	big[sizeof(big) - 1] = '\0';
	refused(big, 0, "");
	big[4096] = '\0';
	assert_int_equal(wh_filter_compile(big, 4096, &F, NULL), 0);
}

/*
 * {"and": [ors x {"or": [21 x {"exists": "payload"}]}]}: 22 x ors + 1
 * operators. Its length in *len.
 */
static const char *
and_of_ors(int ors, int *len)
{
	static char	buf[4096];
	int		i, j, n;

	n = snprintf(buf, sizeof(buf), "{\"and\":[");
	for (j = 0; j < ors; j++) {
		n += snprintf(buf + n, sizeof(buf) - n, "%s{\"or\":[",
		    j ? "," : "");
		for (i = 0; i < 21; i++)
			n += snprintf(buf + n, sizeof(buf) - n,
			    "%s{\"exists\":\"payload\"}", i ? "," : "");
		n += snprintf(buf + n, sizeof(buf) - n, "]}");
	}
	n += snprintf(buf + n, sizeof(buf) - n, "]}");
	*len = n;
	return (buf);
}

static void
test_too_many_nodes(void **state)
{
	const char	*src;
	int		 n;

	/* 67 operators: over 64; 45 are fine. */
	src = and_of_ors(3, &n);
	assert_int_equal(wh_filter_compile(src, n, &F, NULL), -1);
	src = and_of_ors(2, &n);
	assert_int_equal(wh_filter_compile(src, n, &F, NULL), 0);
	assert_int_equal(F.nnode, 45);
}

int
main(void)
{
	const struct CMUnitTest	tests[] = {
		cmocka_unit_test(test_event_type),
		cmocka_unit_test(test_payload_paths),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_logic),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_too_many_nodes),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
