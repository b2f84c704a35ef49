/*
 * scripts.c: the text of the Lua scripts (see scripts.h for each
 * script's keys and arguments).
 */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "encode.h"
#include "scripts.h"

int
wh_script_sha1(const char *script, char out[WH_SCRIPT_SHA_LEN + 1])
{
	unsigned char	md[EVP_MAX_MD_SIZE];
	unsigned int	mdlen;

	if (EVP_Digest(script, strlen(script), md, &mdlen, EVP_sha1(),
	    NULL) != 1 || mdlen * 2 != WH_SCRIPT_SHA_LEN)
		return (-1);
	(void)wh_hex_encode(md, mdlen, out);
	out[WH_SCRIPT_SHA_LEN] = '\0';
	return (0);
}

int
wh_script_args(const char *cmd, const char *script, int nkeys, int argc,
    const char **argv, const size_t *lens, const char **av, size_t *al,
    size_t max, char nk[12])
{
	int	i;

	if (nkeys < 0 || argc < nkeys || (size_t)argc + 3 > max)
		return (-1);
	(void)snprintf(nk, 12, "%d", nkeys);
	av[0] = cmd;
	av[1] = script;
	av[2] = nk;
	for (i = 0; i < 3; i++)
		al[i] = strlen(av[i]);
	for (i = 0; i < argc; i++) {
		av[i + 3] = argv[i];
		al[i + 3] = lens != NULL ? lens[i] : strlen(argv[i]);
	}
	return (argc + 3);
}

const char wh_lua_move_due[] =
    "local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1],\n"
    "    'LIMIT', 0, tonumber(ARGV[2]))\n"
    "for _, m in ipairs(due) do\n"
    "  redis.call('XADD', KEYS[2], '*', 'task', m)\n"
    "  redis.call('ZREM', KEYS[1], m)\n"
    "end\n"
    "return #due\n";
