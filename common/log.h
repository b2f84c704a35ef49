/*
 * log.h: JSON lines on stderr, one object per line:
 *   {"ts":"...","level":"info","component":"dispatcher","msg":"...",k:v...}
 * Callers pass extra fields as key, value pairs of strings ended by NULL;
 * every key is a name of log_fields.h, whose type decides whether the
 * value is written as a JSON number or boolean (when it is one) or as a
 * string. Values are escaped; a NULL value is skipped. Never pass a
 * secret.
 */
#ifndef WH_LOG_H
#define WH_LOG_H

#define WH_LOG_DEBUG	0
#define WH_LOG_INFO	1
#define WH_LOG_WARN	2
#define WH_LOG_ERROR	3

void	wh_log_init(const char *component, int min_level);
int	wh_log_level_parse(const char *);
/* 1 when a line of this level is written: skip formatting its fields. */
int	wh_log_enabled(int level);
void	wh_log(int level, const char *msg, ...)
	    __attribute__((sentinel));

#endif
