/*
 * fuzz.h: what the libFuzzer targets share. A broken invariant is a
 * crash (abort), which libFuzzer reports with the input that caused it,
 * exactly like a sanitizer finding.
 */
#ifndef WH_FUZZ_H
#define WH_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FUZZ_CHECK(cond)	do {					\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: invariant broken: %s\n",	\
		    __FILE__, __LINE__, #cond);				\
		abort();						\
	}								\
} while (0)

/* A NUL-terminated copy of the input; NULL only on ENOMEM. */
static inline char *
fuzz_cstr(const uint8_t *data, size_t size)
{
	char	*s;

	if ((s = malloc(size + 1)) == NULL)
		return (NULL);
	if (size > 0)
		memcpy(s, data, size);
	s[size] = '\0';
	return (s);
}

#endif
