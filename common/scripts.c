/*
 * scripts.c: the text of the Lua scripts (see scripts.h for each
 * script's keys and arguments).
 */
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

const char wh_lua_move_due[] =
    "local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1],\n"
    "    'LIMIT', 0, tonumber(ARGV[2]))\n"
    "for _, m in ipairs(due) do\n"
    "  redis.call('XADD', KEYS[2], '*', 'task', m)\n"
    "  redis.call('ZREM', KEYS[1], m)\n"
    "end\n"
    "return #due\n";
