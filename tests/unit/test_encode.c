/*
 * test_encode.c: hex and base64 against the RFC 4648 vectors, the exact
 * output-size rules (an exactly sized buffer works, one byte less fails),
 * the strictness of the decoder (no whitespace, no misplaced padding, no
 * URL-safe alphabet), and round trips long enough to cross the chunking
 * done around OpenSSL's int-sized calls.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "encode.h"

struct vec {
	const char	*in;
	const char	*std;
	const char	*url;
};

/* RFC 4648 section 10. */
static const struct vec rfc4648[] = {
	{ "", "", "" },
	{ "f", "Zg==", "Zg" },
	{ "fo", "Zm8=", "Zm8" },
	{ "foo", "Zm9v", "Zm9v" },
	{ "foob", "Zm9vYg==", "Zm9vYg" },
	{ "fooba", "Zm9vYmE=", "Zm9vYmE" },
	{ "foobar", "Zm9vYmFy", "Zm9vYmFy" },
};

/* Decimal digits as printf writes them, at every length. */
static void
test_dec(void **state)
{
	char		got[WH_DEC_MAX + 1], want[32];
	uint64_t	v;
	size_t		n;
	int		i;

	(void)state;
	n = wh_dec_encode(0, got);
	assert_int_equal(n, 1);
	assert_memory_equal(got, "0", 1);
	n = wh_dec_encode(UINT64_MAX, got);
	assert_int_equal(n, WH_DEC_MAX);
	assert_memory_equal(got, "18446744073709551615", WH_DEC_MAX);
	for (v = 1, i = 0; i < 20; i++, v *= 10) {
		uint64_t	probe[3] = { v - 1, v, v + 7 };
		int		k;

		for (k = 0; k < 3; k++) {
			n = wh_dec_encode(probe[k], got);
			got[n] = '\0';
			(void)snprintf(want, sizeof(want), "%llu",
			    (unsigned long long)probe[k]);
			assert_string_equal(got, want);
		}
	}
}

static void
test_hex(void **state)
{
	static const unsigned char	in[] = { 0x00, 0x01, 0x7f, 0x80, 0xab,
					    0xff };
	char				out[2 * sizeof(in) + 1];

	(void)state;
	memset(out, 'X', sizeof(out));
	assert_int_equal(wh_hex_encode(in, sizeof(in), out), 12);
	assert_string_equal(out, "00017f80abff");
	assert_int_equal(wh_hex_encode(in, 0, out), 0);
	assert_string_equal(out, "");
}

/*
 * The tables' hash is djb2 over the bytes given: the known value of "a"
 * and of "" (its seed), bytes past a NUL counted, the byte unsigned.
 */
static void
test_hash(void **state)
{
	(void)state;
	assert_true(wh_hash("", 0) == 5381);
	assert_true(wh_hash("a", 1) == 5381 * 33 + 'a');
	assert_true(wh_hash("ab", 2) == (5381 * 33 + 'a') * 33 + 'b');
	assert_true(wh_hash("a\0b", 3) != wh_hash("a", 1));
	assert_true(wh_hash("\xff", 1) == 5381 * 33 + 255);
}

static void
test_b64_vectors(void **state)
{
	char		out[64];
	unsigned char	dec[64];
	size_t		i, len;

	(void)state;
	for (i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
		len = strlen(rfc4648[i].in);
		assert_int_equal(wh_b64_encode((const unsigned char *)
		    rfc4648[i].in, len, out, sizeof(out)),
		    strlen(rfc4648[i].std));
		assert_string_equal(out, rfc4648[i].std);

		assert_int_equal(wh_b64url_encode((const unsigned char *)
		    rfc4648[i].in, len, out, sizeof(out)),
		    strlen(rfc4648[i].url));
		assert_string_equal(out, rfc4648[i].url);

		assert_int_equal(wh_b64_decode(rfc4648[i].std,
		    strlen(rfc4648[i].std), dec, sizeof(dec)), len);
		assert_memory_equal(dec, rfc4648[i].in, len);
	}
}

static void
test_b64_alphabets(void **state)
{
	static const unsigned char	in[] = { 0xfb, 0xff, 0xfe, 0x00 };
	char				out[16];
	unsigned char			dec[8];

	(void)state;
	assert_int_equal(wh_b64_encode(in, sizeof(in), out, sizeof(out)), 8);
	assert_string_equal(out, "+//+AA==");
	assert_int_equal(wh_b64url_encode(in, sizeof(in), out, sizeof(out)),
	    6);
	assert_string_equal(out, "-__-AA");
	assert_int_equal(wh_b64_decode("+//+AA==", 8, dec, sizeof(dec)), 4);
	assert_memory_equal(dec, in, 4);
	/* The URL-safe alphabet is not standard base64. */
	assert_int_equal(wh_b64_decode("-__-AA==", 8, dec, sizeof(dec)), -1);
}

static void
test_b64_encode_bounds(void **state)
{
	char	out[16];

	(void)state;
	/* "foob": 8 chars + NUL. */
	assert_int_equal(wh_b64_encode((const unsigned char *)"foob", 4, out,
	    9), 8);
	assert_string_equal(out, "Zm9vYg==");
	assert_int_equal(wh_b64_encode((const unsigned char *)"foob", 4, out,
	    8), -1);
	assert_int_equal(WH_B64_LEN(4), 9);
	/* URL-safe "foob": 6 chars + NUL. */
	assert_int_equal(wh_b64url_encode((const unsigned char *)"foob", 4,
	    out, 7), 6);
	assert_string_equal(out, "Zm9vYg");
	assert_int_equal(wh_b64url_encode((const unsigned char *)"foob", 4,
	    out, 6), -1);
	assert_int_equal(wh_b64_encode((const unsigned char *)"", 0, out, 1),
	    0);
	assert_string_equal(out, "");
	assert_int_equal(wh_b64_encode((const unsigned char *)"", 0, out, 0),
	    -1);
}

static void
test_b64_decode_bounds(void **state)
{
	unsigned char	dec[8];

	(void)state;
	memset(dec, 0xaa, sizeof(dec));
	assert_int_equal(wh_b64_decode("Zm9vYg==", 8, dec, 4), 4);
	assert_memory_equal(dec, "foob", 4);
	assert_int_equal(dec[4], 0xaa);
	assert_int_equal(wh_b64_decode("Zm9vYg==", 8, dec, 3), -1);
	assert_int_equal(wh_b64_decode("Zm9vYmFy", 8, dec, 6), 6);
	assert_int_equal(wh_b64_decode("Zm9vYmFy", 8, dec, 5), -1);
	assert_int_equal(wh_b64_decode("", 0, dec, 0), 0);
}

static void
test_b64_decode_invalid(void **state)
{
	static const char *const	bad[] = {
		"Zg",		/* padding required */
		"Zg=",		/* short */
		"Zm9vY",	/* not a multiple of 4 */
		" Zm9v",	/* whitespace */
		"Zm9v ",
		"Zm9v\n",
		"Zm 9v",
		"Zm9v\nYmFy",
		"Zm9 ",		/* EVP alone would trim these */
		" Zm9",
		"\tZm9vYmF",
		"Z===",		/* three pads */
		"====",
		"Zg==Zm9v",	/* padding in the middle */
		"Z=g=",
		"Zm9v*mFy",	/* outside the alphabet */
		"Zm9v.mFy",
	};
	unsigned char			dec[16];
	size_t				i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (wh_b64_decode(bad[i], strlen(bad[i]), dec, sizeof(dec))
		    != -1)
			fail_msg("accepted \"%s\"", bad[i]);
	}
	/* An embedded NUL is not base64. */
	assert_int_equal(wh_b64_decode("Zm\0v", 4, dec, sizeof(dec)), -1);
}

/* Every length across group and chunk boundaries, both alphabets. */
static void
test_b64_roundtrip(void **state)
{
	unsigned char	*in, *dec;
	char		*out;
	size_t		 len, i, k;
	int		 n;
	const size_t	 lens[] = { 0, 1, 2, 3, 4, 5, 47, 48, 49, 12287,
			    12288, 12289, 40000, 100003 };

	(void)state;
	in = malloc(100003);
	dec = malloc(100003);
	out = malloc(WH_B64_LEN(100003));
	assert_non_null(in);
	assert_non_null(dec);
	assert_non_null(out);
	for (i = 0; i < 100003; i++)
		in[i] = (unsigned char)(i * 131 + (i >> 8));

	for (k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		len = lens[k];
		n = wh_b64_encode(in, len, out, WH_B64_LEN(len));
		assert_int_equal(n, ((len + 2) / 3) * 4);
		assert_int_equal(strlen(out), (size_t)n);
		n = wh_b64_decode(out, (size_t)n, dec, len);
		assert_int_equal(n, len);
		assert_memory_equal(dec, in, len);

		n = wh_b64url_encode(in, len, out, WH_B64_LEN(len));
		assert_int_equal(n, (len * 4 + 2) / 3);
		assert_int_equal(strlen(out), (size_t)n);
		assert_null(strchr(out, '+'));
		assert_null(strchr(out, '/'));
		assert_null(strchr(out, '='));
	}
	free(in);
	free(dec);
	free(out);
}

/* wh_utf8_seq / wh_utf8_put: table 3-7 exactly, and back again. */
static void
test_utf8(void **state)
{
	static const struct {
		const char	*s;
		int		 n;
		uint32_t	 cp;
	} ok[] = {
		{ "A", 1, 0x41 }, { "\x7f", 1, 0x7f }, { "\xc2\x80", 2, 0x80 },
		{ "\xdf\xbf", 2, 0x7ff }, { "\xe0\xa0\x80", 3, 0x800 },
		{ "\xed\x9f\xbf", 3, 0xd7ff }, { "\xee\x80\x80", 3, 0xe000 },
		{ "\xef\xbf\xbf", 3, 0xffff },
		{ "\xf0\x90\x80\x80", 4, 0x10000 },
		{ "\xf4\x8f\xbf\xbf", 4, 0x10ffff },
	};
	static const char *const bad[] = {
		"\x80", "\xbf", "\xc0\xaf", "\xc1\xbf", "\xc2", "\xc2\x41",
		"\xe0\x80\xaf", "\xed\xa0\x80", "\xed\xbf\xbf",
		"\xf0\x80\x80\xaf", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80",
		"\xff", "\xe2\x82",
	};
	unsigned char	 u[4];
	uint32_t	 cp;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(wh_utf8_seq((const unsigned char *)ok[i].s,
		    strlen(ok[i].s), &cp), ok[i].n);
		assert_int_equal(cp, ok[i].cp);
		assert_int_equal(wh_utf8_put(cp, u), (size_t)ok[i].n);
		assert_memory_equal(u, ok[i].s, (size_t)ok[i].n);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (wh_utf8_seq((const unsigned char *)bad[i], strlen(bad[i]),
		    &cp) != -1)
			fail_msg("accepted bad[%zu]", i);
	}
	/* A sequence cut by the end of the text is refused. */
	assert_int_equal(wh_utf8_seq((const unsigned char *)"\xe2\x82\xac",
	    2, &cp), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dec),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_hash),
		cmocka_unit_test(test_b64_vectors),
		cmocka_unit_test(test_b64_alphabets),
		cmocka_unit_test(test_b64_encode_bounds),
		cmocka_unit_test(test_b64_decode_bounds),
		cmocka_unit_test(test_b64_decode_invalid),
		cmocka_unit_test(test_b64_roundtrip),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
