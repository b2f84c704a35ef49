/*
 * test_json.c: the strict validator (grammar, UTF-8, surrogate escapes,
 * depth limit, trailing garbage), the top-level member finder (nested and
 * escaped content must not confuse it, duplicates are refused), the
 * string escaper (exact bytes out, always valid JSON), the object walk
 * the api reads every body with (all members, reasons for a refusal),
 * and the growable buffer the escaper writes into.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "json.h"

/* Literal with its length: embedded NULs and high bytes count. */
#define L(s)	s, sizeof(s) - 1

static void
test_valid(void **state)
{
	static const char *const	ok[] = {
		"{}", "[]", "0", "-0", "1", "-1", "123", "1.5", "-0.25",
		"1e5", "1E5", "1e+5", "1e-5", "1.5e10", "0.0", "\"\"",
		"\"abc\"", "true", "false", "null", " \t\r\n{} \t\r\n",
		"{\"a\":1}", "{ \"a\" : [ 1 , 2 , { } ] , \"b\" : null }",
		"[[[]]]", "\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t\"",
		"\"\\u0000\\u00e9\\uFFFF\"", "\"\\ud83d\\ude00\"",
		"\"caf\xc3\xa9\"", "\"\xe2\x82\xac\"", "\"\xf0\x9f\x98\x80\"",
		"\"\xef\xbf\xbf\"", "\"\xf4\x8f\xbf\xbf\"",
		"{\"test\": 2432232314}",
		"{\"a\":{\"a\":{\"a\":\"}\"}}}",
		"12345678901234567890123456789012345678901234567890",
	};
	size_t				i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (wh_json_valid(ok[i], strlen(ok[i])) != 1)
			fail_msg("refused %s", ok[i]);
	}
}

static void
test_invalid(void **state)
{
	static const char *const	bad[] = {
		"", " ", "{", "}", "[", "]", "{]", "[}", "{\"a\"}",
		"{\"a\":}", "{\"a\" 1}", "{a:1}", "{'a':1}", "{\"a\":1,}",
		"[1,]", "[,1]", "[1 2]", "{\"a\":1 \"b\":2}", "{1:2}",
		"01", "-", "+1", "1.", ".5", "1e", "1e+", "0x10", "-01",
		"NaN", "Infinity", "-Infinity", "tru", "truee", "nul",
		"True", "NULL", "\"abc", "abc\"", "'abc'",
		"\"\\x41\"", "\"\\u12\"", "\"\\u12g4\"", "\"\\\"",
		"\"\\ud83d\"", "\"\\ude00\"", "\"\\ud83d\\u0041\"",
		"\"\\ud83d x\"", "\"\\ude00\\ud83d\"",
		"\"a\tb\"", "\"a\nb\"", "\"\x1f\"",
		/* trailing garbage */
		"{} {}", "{}x", "1 2", "[] ,", "\"a\"\"b\"", "nullx",
		"{}\x0b", "{}\xc2\xa0",
		/* bad UTF-8 */
		"\"\x80\"", "\"\xbf\"", "\"\xc0\x80\"", "\"\xc1\xbf\"",
		"\"\xc3\"", "\"\xc3\x28\"", "\"\xe0\x80\x80\"",
		"\"\xe0\x9f\xbf\"", "\"\xed\xa0\x80\"", "\"\xed\xbf\xbf\"",
		"\"\xe2\x82\"", "\"\xf0\x80\x80\x80\"", "\"\xf0\x8f\xbf\xbf\"",
		"\"\xf4\x90\x80\x80\"", "\"\xf5\x80\x80\x80\"", "\"\xfe\"",
		"\"\xff\"", "\xef\xbb\xbf{}",
	};
	size_t				i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (wh_json_valid(bad[i], strlen(bad[i])) != 0)
			fail_msg("accepted case %zu: %s", i, bad[i]);
	}
	/* An embedded NUL, in and after a value. */
	assert_int_equal(wh_json_valid(L("\"a\0b\"")), 0);
	assert_int_equal(wh_json_valid(L("{}\0")), 0);
	assert_int_equal(wh_json_valid(L("\0")), 0);
	assert_int_equal(wh_json_valid(NULL, 0), 0);
	/* Length is honoured: a valid prefix of a longer text. */
	assert_int_equal(wh_json_valid("[1]]", 3), 1);
	assert_int_equal(wh_json_valid("[1]", 2), 0);
}

/* n nested containers, alternating arrays and objects. */
static char *
nest(int n, size_t *len)
{
	char	*s;
	size_t	 i, off;

	s = malloc((size_t)n * 6 + 2);
	assert_non_null(s);
	off = 0;
	for (i = 0; i < (size_t)n; i++) {
		if (i % 2 == 0)
			s[off++] = '[';
		else {
			memcpy(s + off, "{\"k\":", 5);
			off += 5;
		}
	}
	s[off++] = '1';
	for (i = (size_t)n; i > 0; i--)
		s[off++] = (i - 1) % 2 == 0 ? ']' : '}';
	*len = off;
	return (s);
}

static void
test_depth(void **state)
{
	char	*s;
	size_t	 len;

	(void)state;
	assert_int_equal(WH_JSON_DEPTH_MAX, 64);
	s = nest(WH_JSON_DEPTH_MAX, &len);
	assert_int_equal(wh_json_valid(s, len), 1);
	free(s);
	s = nest(WH_JSON_DEPTH_MAX + 1, &len);
	assert_int_equal(wh_json_valid(s, len), 0);
	free(s);
	s = nest(100000, &len);
	assert_int_equal(wh_json_valid(s, len), 0);
	free(s);
}

static void
test_depth_siblings(void **state)
{
	char	*s;
	size_t	 i, off;

	(void)state;
	/* [[],[],[],...] with 1000 siblings: depth 2. */
	s = malloc(3 * 1000 + 2);
	assert_non_null(s);
	off = 0;
	s[off++] = '[';
	for (i = 0; i < 1000; i++) {
		if (i > 0)
			s[off++] = ',';
		s[off++] = '[';
		s[off++] = ']';
	}
	s[off++] = ']';
	assert_int_equal(wh_json_valid(s, off), 1);
	free(s);
}

static void
check_member(const char *json, const char *name, int want,
    const char *value)
{
	const char	*v = NULL;
	size_t		 vlen = 0;
	int		 rc;

	rc = wh_json_member(json, strlen(json), name, &v, &vlen);
	if (rc != want)
		fail_msg("%s in %s: got %d, want %d", name, json, rc, want);
	if (want != 1)
		return;
	if (vlen != strlen(value) || memcmp(v, value, vlen) != 0)
		fail_msg("%s in %s: got \"%.*s\", want \"%s\"", name, json,
		    (int)vlen, v, value);
}

static void
test_member(void **state)
{
	static const char	doc[] =
	    " { \"company_sid\" : \"CO_1\" ,\n"
	    "   \"nested\": {\"event_type\": \"wrong\", \"payload\": 0},\n"
	    "   \"arr\": [\"event_type\", {\"payload\": 1}],\n"
	    "   \"str\": \"\\\"event_type\\\": \\\"also wrong\\\" }\",\n"
	    "   \"event_type\"\t:\t\"call.ended\"\t,\n"
	    "   \"payload\": {\"call_sid\": \"CA_9\", \"x\": [1, {\"y\": "
	    "\"}]\\\"\"}]},\n"
	    "   \"n\": -1.5e3, \"t\": true, \"z\": null\n"
	    " } ";

	(void)state;
	check_member(doc, "company_sid", 1, "\"CO_1\"");
	check_member(doc, "event_type", 1, "\"call.ended\"");
	check_member(doc, "payload", 1,
	    "{\"call_sid\": \"CA_9\", \"x\": [1, {\"y\": \"}]\\\"\"}]}");
	check_member(doc, "n", 1, "-1.5e3");
	check_member(doc, "t", 1, "true");
	check_member(doc, "z", 1, "null");
	check_member(doc, "arr", 1, "[\"event_type\", {\"payload\": 1}]");
	check_member(doc, "call_sid", 0, NULL);
	check_member(doc, "y", 0, NULL);
	check_member(doc, "event", 0, NULL);
	check_member(doc, "event_type_", 0, NULL);
	check_member(doc, "", 0, NULL);
}

static void
test_member_escaped_key(void **state)
{
	(void)state;
	/* Keys compare after unescaping, as any parser reads them. */
	check_member("{\"event\\u005ftype\":\"a.b\"}", "event_type", 1,
	    "\"a.b\"");
	check_member("{\"caf\\u00e9\":1}", "caf\xc3\xa9", 1, "1");
	check_member("{\"\\ud83d\\ude00\":2}", "\xf0\x9f\x98\x80", 1, "2");
	check_member("{\"a\\\"b\":3}", "a\"b", 1, "3");
	check_member("{\"a\\nb\":4}", "a\nb", 1, "4");
	check_member("{\"a\\\"b\":3}", "a\\\"b", 0, NULL);
	check_member("{\"\":5}", "", 1, "5");
}

static void
test_member_errors(void **state)
{
	(void)state;
	check_member("{}", "a", 0, NULL);
	check_member("[{\"a\":1}]", "a", -1, NULL);
	check_member("\"a\"", "a", -1, NULL);
	check_member("1", "a", -1, NULL);
	check_member("{\"a\":1", "a", -1, NULL);
	check_member("{\"a\":1} x", "a", -1, NULL);
	check_member("{\"a\":\"\xc0\x80\"}", "a", -1, NULL);
	check_member("", "a", -1, NULL);
	/* Ambiguous: parsers disagree on which "a" wins. */
	check_member("{\"a\":1,\"a\":2}", "a", -1, NULL);
	check_member("{\"a\":1,\"\\u0061\":2}", "a", -1, NULL);
	/* A duplicate of another name does not matter. */
	check_member("{\"b\":1,\"b\":2,\"a\":3}", "a", 1, "3");
}

static void
check_str(const char *in, size_t len, const char *want)
{
	struct wh_buf	b;

	wh_buf_init(&b, 0);
	assert_int_equal(wh_json_str(&b, in, len), 0);
	assert_int_equal(wh_buf_cstr(&b), 0);
	assert_string_equal(b.data, want);
	assert_int_equal(b.len, strlen(want));
	assert_int_equal(wh_json_valid(b.data, b.len), 1);
	wh_buf_free(&b);
}

static void
test_escape(void **state)
{
	(void)state;
	check_str(L(""), "\"\"");
	check_str(L("plain text"), "\"plain text\"");
	check_str(L("a\"b\\c/d"), "\"a\\\"b\\\\c/d\"");
	check_str(L("\b\f\n\r\t"), "\"\\b\\f\\n\\r\\t\"");
	check_str(L("\x01\x1f\x7f"), "\"\\u0001\\u001f\x7f\"");
	check_str(L("a\0b"), "\"a\\u0000b\"");
	check_str(L("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
	    "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
	/* Bad UTF-8 becomes U+FFFD, one per bad byte. */
	check_str(L("a\xff" "b"), "\"a\\ufffdb\"");
	check_str(L("\xc0\x80"), "\"\\ufffd\\ufffd\"");
	check_str(L("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");
	check_str(L("x\xe2\x82"), "\"x\\ufffd\\ufffd\"");
	check_str(L("</script>"), "\"</script>\"");
}

static void
test_escape_cap(void **state)
{
	struct wh_buf	b;

	(void)state;
	/* A capped buffer refuses, and says so. */
	wh_buf_init(&b, 8);
	assert_int_equal(wh_json_str(&b, L("123456")), 0);
	assert_int_equal(b.len, 8);
	assert_int_equal(wh_json_str(&b, L("")), -1);
	wh_buf_reset(&b);
	assert_int_equal(wh_json_str(&b, L("1234567")), -1);
	wh_buf_free(&b);
}

/*
 * Long strings are walked eight bytes at a time: whatever needs a look
 * (a quote, a backslash, a control byte, a high byte) must be found at
 * every position of a word, in the checked walk and in the trusted one.
 */
static void
test_long_strings(void **state)
{
	static const struct {
		const char	*s;	/* put at offset i of the string */
		int		 valid;
	} probe[] = {
		{ "\"", 0 },		/* ends the string early: junk follows */
		{ "\\n", 1 }, { "\\\"", 1 }, { "\\u00e9", 1 },
		{ "\\x", 0 }, { "\n", 0 }, { "\x1f", 0 }, { "\x7f", 1 },
		{ "\xc3\xa9", 1 }, { "\xc3", 0 }, { "\xff", 0 },
		{ "\xf0\x9f\x98\x80", 1 }, { " ", 1 },
	};
	char		 text[80], obj[100];
	const char	*names[1] = { "k" }, *v[1];
	size_t		 lens[1], i, p, n, len;

	(void)state;
	for (p = 0; p < sizeof(probe) / sizeof(probe[0]); p++) {
		n = strlen(probe[p].s);
		for (i = 0; i < 40; i++) {
			/* "aaa...<probe>aaa..." of 60 bytes in all. */
			len = 0;
			text[len++] = '"';
			memset(text + len, 'a', i);
			len += i;
			memcpy(text + len, probe[p].s, n);
			len += n;
			memset(text + len, 'a', 60 - len);
			len = 60;
			text[len++] = '"';
			if (wh_json_valid(text, len) != probe[p].valid)
				fail_msg("probe %zu at %zu", p, i);
			if (!probe[p].valid)
				continue;
			/* The trusted walk finds the end of the same string. */
			(void)snprintf(obj, sizeof(obj), "{\"k\":%.*s,\"z\":1}",
			    (int)len, text);
			assert_int_equal(wh_json_members_trusted(obj,
			    strlen(obj), names, 1, v, lens), 1);
			assert_int_equal(lens[0], len);
			assert_memory_equal(v[0], text, len);
		}
	}
}

/* The buffer under the escaper: growth, formatting, the cap, the NUL. */
static void
test_buf(void **state)
{
	struct wh_buf	b;
	char		big[300];
	size_t		i;

	(void)state;
	wh_buf_init(&b, 0);
	assert_null(b.data);
	assert_int_equal(wh_buf_cstr(&b), 0);
	assert_string_equal(b.data, "");
	assert_int_equal(b.len, 0);
	assert_int_equal(wh_buf_append(&b, "ab", 2), 0);
	assert_int_equal(wh_buf_appendstr(&b, "cd"), 0);
	assert_int_equal(wh_buf_appendf(&b, "-%d-%s-", 42, "x"), 0);
	assert_int_equal(b.len, 10);
	assert_memory_equal(b.data, "abcd-42-x-", 10);

	/* Formatting past the spare room grows and formats again. */
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	for (i = 0; i < 50; i++)
		assert_int_equal(wh_buf_appendf(&b, "%s|", big), 0);
	assert_int_equal(b.len, 10 + 50 * 300);
	assert_int_equal(b.data[10 + 299], '|');
	assert_int_equal(b.data[b.len - 1], '|');
	assert_int_equal(wh_buf_cstr(&b), 0);
	assert_int_equal(strlen(b.data), b.len);

	wh_buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_int_equal(wh_buf_appendf(&b, "%s", ""), 0);
	assert_int_equal(b.len, 0);
	/* len + extra would wrap: refused before any allocation. */
	assert_int_equal(wh_buf_append(&b, "a", 1), 0);
	assert_int_equal(wh_buf_reserve(&b, SIZE_MAX), -1);
	assert_int_equal(wh_buf_append(&b, "a", SIZE_MAX), -1);
	assert_int_equal(b.len, 1);
	wh_buf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
}

static void
test_buf_cap(void **state)
{
	struct wh_buf	b;

	(void)state;
	wh_buf_init(&b, 10);
	assert_int_equal(wh_buf_append(&b, "0123456789", 10), 0);
	assert_int_equal(wh_buf_append(&b, "x", 1), -1);
	assert_int_equal(wh_buf_appendf(&b, "%d", 1), -1);
	assert_int_equal(wh_buf_appendf(&b, "%s", ""), 0);
	assert_int_equal(b.len, 10);
	/* The NUL is not content: a full buffer still terminates. */
	assert_int_equal(wh_buf_cstr(&b), 0);
	assert_string_equal(b.data, "0123456789");

	wh_buf_reset(&b);
	assert_int_equal(wh_buf_appendf(&b, "%s", "01234567890"), -1);
	assert_int_equal(b.len, 0);
	assert_int_equal(wh_buf_appendf(&b, "%s", "0123456789"), 0);
	assert_int_equal(b.len, 10);
	assert_int_equal(wh_buf_reserve(&b, 1), -1);
	assert_int_equal(wh_buf_reserve(&b, 0), 0);
	wh_buf_free(&b);
}

/* wh_json_string: escapes decoded, \u pairs to UTF-8, bounds kept. */
static void
test_string(void **state)
{
	char	out[16];

	assert_int_equal(wh_json_string("\"abc\"", 5, out, sizeof(out)), 3);
	assert_string_equal(out, "abc");
	assert_int_equal(wh_json_string("\"call\\u002eended\"", 17, out,
	    sizeof(out)), 10);
	assert_string_equal(out, "call.ended");
	assert_int_equal(wh_json_string("\"caf\\u00e9\"", 11, out,
	    sizeof(out)), 5);
	assert_string_equal(out, "caf\xc3\xa9");
	assert_int_equal(wh_json_string("\"\\ud83d\\ude00\"", 14, out,
	    sizeof(out)), 4);
	assert_memory_equal(out, "\xf0\x9f\x98\x80", 5);
	assert_int_equal(wh_json_string("\"a\\n\\\"\"", 7, out,
	    sizeof(out)), 3);
	assert_string_equal(out, "a\n\"");
	assert_int_equal(wh_json_string("\"\"", 2, out, sizeof(out)), 0);
	assert_string_equal(out, "");
	/* Not one string. */
	assert_int_equal(wh_json_string("42", 2, out, sizeof(out)), -1);
	assert_int_equal(wh_json_string("\"a\" ", 4, out, sizeof(out)), -1);
	assert_int_equal(wh_json_string("\"a", 2, out, sizeof(out)), -1);
	assert_int_equal(wh_json_string("\"\\ud83d\"", 8, out,
	    sizeof(out)), -1);
	assert_int_equal(wh_json_string("", 0, out, sizeof(out)), -1);
	/* Too long for out (15 chars + NUL fit, 16 do not), or U+0000. */
	assert_int_equal(wh_json_string("\"123456789012345\"", 17, out,
	    sizeof(out)), 15);
	assert_int_equal(wh_json_string("\"1234567890123456\"", 18, out,
	    sizeof(out)), -2);
	assert_int_equal(wh_json_string("\"a\\u0000b\"", 10, out,
	    sizeof(out)), -2);
}

/* wh_json_elements: raw spans of an array's elements, bounded. */
static void
test_elements(void **state)
{
	const char	*v[4], *t = " [ {\"a\":[1,2]} , \"x,y\",3 ] ";
	size_t		 l[4];

	assert_int_equal(wh_json_elements(t, strlen(t), v, l, 4), 3);
	assert_int_equal(l[0], 11);
	assert_memory_equal(v[0], "{\"a\":[1,2]}", 11);
	assert_memory_equal(v[1], "\"x,y\"", 5);
	assert_memory_equal(v[2], "3", 1);
	assert_int_equal(wh_json_elements(t, strlen(t), v, l, 2), -2);
	assert_int_equal(wh_json_elements("[]", 2, v, l, 4), 0);
	assert_int_equal(wh_json_elements("{}", 2, v, l, 4), -1);
	assert_int_equal(wh_json_elements("[1,]", 4, v, l, 4), -1);
}

/* One walk for several members of valid text; repeats refused. */
static void
test_members_trusted(void **state)
{
	static const char *const names[] = { "a", "b", "c\\" };
	const char	*v[3], *t = "{\"a\":\"x\\\"}\",\"b\":[1,{\"a\":2}],\"z\":3}";
	size_t		 l[3];

	assert_int_equal(wh_json_members_trusted(t, strlen(t), names, 3, v, l),
	    3);
	assert_int_equal(l[0], 6);
	assert_memory_equal(v[0], "\"x\\\"}\"", 6);
	assert_memory_equal(v[1], "[1,{\"a\":2}]", 11);
	t = "{\"a\":1,\"a\":2}";
	assert_int_equal(wh_json_members_trusted(t, strlen(t), names, 3, v, l),
	    -1);
	assert_int_equal(wh_json_members_trusted("[1]", 3, names, 3, v, l),
	    -1);
	assert_int_equal(wh_json_members_trusted("{}", 2, names, 3, v, l), 0);
	assert_int_equal(wh_json_elements_trusted("[\"]\",2]", 7, v, l, 3),
	    2);
	assert_memory_equal(v[0], "\"]\"", 3);
}

/*
 * The one-pass reader refuses exactly what wh_json_valid refuses (and
 * what is valid but not an object), tells a repeated name (-2) from
 * invalid text (-1), and finds the members the trusted walk finds.
 */
static void
test_members_one_pass(void **state)
{
	static const char *const names[] = { "a", "b" };
	static const char *const bad[] = {
		"", " ", "{", "}", "{\"a\"}", "{\"a\":}", "{\"a\" 1}",
		"{\"a\":1,}", "{,\"a\":1}", "{\"a\":1 \"b\":2}", "{a:1}",
		"{\"a\":1}x", "{\"a\":1}}", "{\"a\":[1,]}", "{\"a\":01}",
		"{\"a\":\"\\x\"}", "{\"a\":1,\"a\":2", "[1]", "1", "\"{}\"",
		"{\"a\":1,\"a\":tru}", NULL
	};
	const char	*v[2], *t;
	size_t		 l[2], i;

	(void)state;
	for (i = 0; bad[i] != NULL; i++) {
		if (wh_json_members(bad[i], strlen(bad[i]), names, 2, v,
		    l) != -1)
			fail_msg("accepted %s", bad[i]);
	}
	t = " {\"b\" : [1,{\"a\":2}] , \"a\":\"x\\\"}\"}\n";
	assert_true(wh_json_valid(t, strlen(t)));
	assert_int_equal(wh_json_members(t, strlen(t), names, 2, v, l), 3);
	assert_int_equal(l[1], 11);
	assert_memory_equal(v[1], "[1,{\"a\":2}]", 11);
	assert_int_equal(l[0], 6);
	assert_memory_equal(v[0], "\"x\\\"}\"", 6);
	assert_int_equal(wh_json_members("{}", 2, names, 2, v, l), 0);
	assert_int_equal(wh_json_members("{\"z\":{}}", 8, names, 2, v, l),
	    0);
	t = "{\"a\":1,\"b\":2,\"a\":3}";
	assert_int_equal(wh_json_members(t, strlen(t), names, 2, v, l), -2);
	/* A name nested deeper is not a top-level repeat. */
	t = "{\"a\":{\"a\":1},\"b\":{\"b\":{}}}";
	assert_int_equal(wh_json_members(t, strlen(t), names, 2, v, l), 3);
	assert_int_equal(wh_json_members(NULL, 0, names, 2, v, l), -1);
}

/* wh_json_check: the reason, nested too deep told from invalid. */
static void
test_check_reasons(void **state)
{
	char	*s, *t;
	size_t	 len;

	(void)state;
	assert_int_equal(wh_json_check(L("{}")), 0);
	assert_int_equal(wh_json_check(L(" [1] ")), 0);
	assert_int_equal(wh_json_check(L("[")), WH_JSON_INVALID);
	assert_int_equal(wh_json_check(L("{}x")), WH_JSON_INVALID);
	assert_int_equal(wh_json_check(NULL, 0), WH_JSON_INVALID);
	s = nest(WH_JSON_DEPTH_MAX, &len);
	assert_int_equal(wh_json_check(s, len), 0);
	free(s);
	s = nest(WH_JSON_DEPTH_MAX + 1, &len);
	assert_int_equal(wh_json_check(s, len), WH_JSON_DEEP);
	/* The first fault met is the reason: garbage before the depth. */
	t = malloc(len + 3);
	assert_non_null(t);
	memcpy(t, "[x,", 3);
	memcpy(t + 3, s, len);
	assert_int_equal(wh_json_check(t, len + 3), WH_JSON_INVALID);
	free(t);
	free(s);
	s = nest(100000, &len);
	assert_int_equal(wh_json_check(s, len), WH_JSON_DEEP);
	free(s);
}

/* {"p": <n levels>}: n + 1 levels in all. */
static char *
nest_in_object(int n, size_t *len)
{
	char	*in, *s;
	size_t	 ilen;

	in = nest(n, &ilen);
	s = malloc(ilen + 6);
	assert_non_null(s);
	memcpy(s, "{\"p\":", 5);
	memcpy(s + 5, in, ilen);
	s[ilen + 5] = '}';
	*len = ilen + 6;
	free(in);
	return (s);
}

/* The one-pass member readers say "nested too deep" as such. */
static void
test_members_deep(void **state)
{
	static const char *const names[] = { "p" };
	struct wh_json_member	 m[1];
	const char		*v[1];
	size_t			 l[1], len;
	char			*s;

	(void)state;
	s = nest_in_object(WH_JSON_DEPTH_MAX - 1, &len);
	assert_int_equal(wh_json_members(s, len, names, 1, v, l), 1);
	assert_int_equal(wh_json_object(s, len, m, 1, 0), 1);
	free(s);
	s = nest_in_object(WH_JSON_DEPTH_MAX, &len);
	assert_int_equal(wh_json_members(s, len, names, 1, v, l),
	    WH_JSON_DEEP);
	assert_int_equal(wh_json_object(s, len, m, 1, 0), WH_JSON_DEEP);
	assert_int_equal(wh_json_member(s, len, "p", v, l), -1);
	free(s);
}

static void
assert_member(const struct wh_json_member *m, const char *name,
    const char *val)
{
	assert_int_equal(m->nlen, strlen(name));
	assert_memory_equal(m->name, name, m->nlen);
	assert_int_equal(m->vlen, strlen(val));
	assert_memory_equal(m->val, val, m->vlen);
}

/* wh_json_object: every member in order, raw names, trimmed values. */
static void
test_object(void **state)
{
	static const char *const bad[] = {
		"", " ", "{", "}", "{\"a\"}", "{\"a\":}", "{\"a\" 1}",
		"{\"a\":1,}", "{,\"a\":1}", "{\"a\":1 \"b\":2}", "{a:1}",
		"{\"a\":1}x", "{\"a\":1}}", "{\"a\":[1,]}", "{\"a\":01}",
		"{\"a\":\"\\x\"}", "{\"a\":1,\"a\":2", "[1]", "1",
		"\"{}\"", "{\"\\ud800\":1}", "{\"a\":\"\xc0\xaf\"}", NULL
	};
	struct wh_json_member	 m[4];
	const char		*t;
	size_t			 i;

	(void)state;
	for (i = 0; bad[i] != NULL; i++) {
		if (wh_json_object(bad[i], strlen(bad[i]), m, 4, 0) !=
		    WH_JSON_INVALID)
			fail_msg("accepted %s", bad[i]);
	}
	assert_int_equal(wh_json_object(NULL, 0, m, 4, 0), WH_JSON_INVALID);
	assert_int_equal(wh_json_object(L(" {} "), m, 4, 0), 0);
	t = " {\"b\" : [1,{\"a\":2}] , \"a\\u0062\":\"x\\\"}\",\"b\":null}\n";
	assert_int_equal(wh_json_object(t, strlen(t), m, 4, 0), 3);
	assert_member(&m[0], "b", "[1,{\"a\":2}]");
	assert_member(&m[1], "a\\u0062", "\"x\\\"}\"");
	assert_member(&m[2], "b", "null");
	/* A repeated name is listed twice: the caller decides. */
	assert_int_equal(wh_json_object(t, strlen(t), m, 4, 1), 3);
	assert_member(&m[2], "b", "null");
	/* More members than room: all counted, the first ones given. */
	memset(m, 0, sizeof(m));
	assert_int_equal(wh_json_object(t, strlen(t), m, 1, 0), 3);
	assert_member(&m[0], "b", "[1,{\"a\":2}]");
	assert_null(m[1].name);
	assert_int_equal(wh_json_object(t, strlen(t), NULL, 0, 0), 3);
	/* Invalid after the room is full still refuses the text. */
	t = "{\"a\":1,\"b\":2,\"c\":[1,}";
	assert_int_equal(wh_json_object(t, strlen(t), m, 1, 0),
	    WH_JSON_INVALID);
}

/* wh_json_text: wh_json_string's decoding, U+0000 as DEL. */
static void
test_text(void **state)
{
	char	out[16];

	(void)state;
	assert_int_equal(wh_json_string(L("\"a\\u0000b\""), out,
	    sizeof(out)), -2);
	assert_int_equal(wh_json_text(L("\"a\\u0000b\""), out,
	    sizeof(out)), 3);
	assert_string_equal(out, "a\x7f" "b");
	assert_int_equal(wh_json_text(L("\"caf\\u00e9\\t\\ud83d\\ude00\""),
	    out, sizeof(out)), 10);
	assert_string_equal(out, "caf\xc3\xa9\t\xf0\x9f\x98\x80");
	assert_int_equal(wh_json_text(L("\"\\u0007\""), out, sizeof(out)),
	    1);
	assert_int_equal(out[0], 7);
	assert_int_equal(wh_json_text(L("\"\\ud800\""), out, sizeof(out)),
	    -1);
	assert_int_equal(wh_json_text(L("\"abc\""), out, 3), -2);
	assert_int_equal(wh_json_text(L("\"abc\""), out, 4), 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_depth_siblings),
		cmocka_unit_test(test_member),
		cmocka_unit_test(test_member_escaped_key),
		cmocka_unit_test(test_member_errors),
		cmocka_unit_test(test_string),
		cmocka_unit_test(test_elements),
		cmocka_unit_test(test_members_trusted),
		cmocka_unit_test(test_members_one_pass),
		cmocka_unit_test(test_check_reasons),
		cmocka_unit_test(test_members_deep),
		cmocka_unit_test(test_object),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_long_strings),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_escape_cap),
		cmocka_unit_test(test_buf),
		cmocka_unit_test(test_buf_cap),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
