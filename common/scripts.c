/*
 * scripts.c: naming the embedded Lua scripts (common/lua/, made into C
 * strings and the wh_scripts[] table by common/lua/embed) by their SHA-1
 * and building EVALSHA calls of them; see scripts.h.
 */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "encode.h"
#include "scripts.h"

static int	shas_done;

int
wh_script_sha1(const char *text, char out[WH_SCRIPT_SHA_LEN + 1])
{
	unsigned char	md[EVP_MAX_MD_SIZE];
	unsigned int	mdlen;

	if (EVP_Digest(text, strlen(text), md, &mdlen, EVP_sha1(),
	    NULL) != 1 || mdlen * 2 != WH_SCRIPT_SHA_LEN)
		return (-1);
	(void)wh_hex_encode(md, mdlen, out);
	out[WH_SCRIPT_SHA_LEN] = '\0';
	return (0);
}

/*
 * Looked up by the text's address, not its content: the callers pass
 * wh_lua_<name> itself, and a table of a few dozen pointers is shorter
 * to walk than any text is to hash.
 */
const char *
wh_script_sha(const char *text)
{
	size_t	i;

	if (!shas_done) {
		for (i = 0; i < wh_nscripts; i++) {
			if (wh_script_sha1(wh_scripts[i].text,
			    wh_scripts[i].sha) == -1)
				return (NULL);
		}
		shas_done = 1;
	}
	for (i = 0; i < wh_nscripts; i++) {
		if (wh_scripts[i].text == text)
			return (wh_scripts[i].sha);
	}
	return (NULL);
}

int
wh_script_argv(struct wh_script_argv *a, const char *text, int nkeys,
    int argc, const char **argv, const size_t *lens)
{
	const char	*sha;
	size_t		 n;
	int		 i;

	a->av = a->room_av;
	a->al = a->room_al;
	a->n = 0;
	if (nkeys < 0 || argc < nkeys || argc > 1 << 20 ||
	    (sha = wh_script_sha(text)) == NULL)
		return (-1);
	n = (size_t)argc + 3;
	if (n > WH_SCRIPT_ARGV_ROOM) {
		a->av = calloc(n, sizeof(*a->av));
		a->al = calloc(n, sizeof(*a->al));
		if (a->av == NULL || a->al == NULL) {
			wh_script_argv_free(a);
			return (-1);
		}
	}
	(void)snprintf(a->nk, sizeof(a->nk), "%d", nkeys);
	a->av[0] = "EVALSHA";
	a->av[1] = sha;
	a->av[2] = a->nk;
	for (i = 0; i < 3; i++)
		a->al[i] = strlen(a->av[i]);
	for (i = 0; i < argc; i++) {
		a->av[i + 3] = argv[i];
		a->al[i + 3] = lens != NULL ? lens[i] : strlen(argv[i]);
	}
	a->n = (int)n;
	return (0);
}

void
wh_script_argv_free(struct wh_script_argv *a)
{
	if (a->av != a->room_av)
		free(a->av);
	if (a->al != a->room_al)
		free(a->al);
	a->av = a->room_av;
	a->al = a->room_al;
	a->n = 0;
}

int
wh_script_lost(const char *error, size_t len)
{
	return (len >= 8 && memcmp(error, "NOSCRIPT", 8) == 0);
}
