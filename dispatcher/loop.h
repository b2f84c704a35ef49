/*
 * loop.h: the dispatcher's one event loop: epoll for sockets (libcurl's
 * and Redis') and a handful of one-shot timers. One thread, no locks.
 */
#ifndef WH_LOOP_H
#define WH_LOOP_H

#include <stdint.h>

#define LOOP_READ	0x01
#define LOOP_WRITE	0x02

typedef void	(*loop_io_cb)(int fd, int events, void *arg);
typedef void	(*loop_timer_cb)(void *arg);

struct loop_timer {
	int64_t			 due;	/* monotonic ms; 0 = not armed */
	loop_timer_cb		 cb;
	void			*arg;
	struct loop_timer	*next;
};

int	loop_init(void);
void	loop_free(void);
/* Watch fd for events (LOOP_READ|LOOP_WRITE), replacing any earlier
 * watch; events 0 removes it. -1 on failure. */
int	loop_watch(int fd, int events, loop_io_cb, void *arg);
/*
 * A socket just opened whose closing will be announced by loop_forget
 * (called just before close): loop_watch(fd, 0, ...) then leaves it in
 * the epoll set until it is wanted again or reports an unwanted event.
 * loop_adopt is -1 when out of memory (the socket is then not to be used).
 */
int	loop_adopt(int fd);
void	loop_forget(int fd);
void	loop_timer_init(struct loop_timer *, loop_timer_cb, void *arg);
void	loop_timer_arm(struct loop_timer *, int64_t ms_from_now);
void	loop_timer_disarm(struct loop_timer *);
/* One round: wait (at most max_ms) and run what is ready. */
int	loop_run_once(int max_ms);

#endif
