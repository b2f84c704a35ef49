/*
 * docs_file.h: the unit tests that check code against the documentation
 * (test_sign.c, test_config_vars.c) read files of docs/, whose path the
 * Makefile passes as TEST_DOCS_DIR. Include after <cmocka.h>.
 */
#ifndef TEST_DOCS_FILE_H
#define TEST_DOCS_FILE_H

#include <stdio.h>
#include <stdlib.h>

#ifndef TEST_DOCS_DIR
#error "TEST_DOCS_DIR (the repository's docs/ directory) must be defined"
#endif

/*
 * The whole of docs/<name> in a NUL-terminated heap buffer, its length in
 * *len; the calling test fails if it cannot be read.
 */
static char *
docs_file_read(const char *name, size_t *len)
{
	char	 path[4096];
	FILE	*f;
	char	*buf;
	long	 n;

	(void)snprintf(path, sizeof(path), "%s/%s", TEST_DOCS_DIR, name);
	if ((f = fopen(path, "rb")) == NULL)
		fail_msg("cannot open %s", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0 && n < 4 * 1024 * 1024);
	rewind(f);
	assert_non_null(buf = malloc((size_t)n + 1));
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return (buf);
}

#endif
