/*
 * loop.c: epoll plus one-shot timers.
 *
 * Sockets are watched level-triggered with exactly the interest their
 * owner asked for, so libcurl's and the Redis wires' "tell me when readable or
 * writable" map one to one. Watch records live in a table indexed by fd
 * (file descriptors are small integers), which also makes removal after
 * close safe: a stale event for a reused fd finds the new owner's record.
 * Timers are few (curl's, the reader's, the heartbeat), so a list scan
 * each round is cheaper than a heap.
 *
 * libcurl asks to watch a connection when a transfer waits on it and to
 * stop when the transfer ends, so a reused keep-alive connection cost an
 * EPOLL_CTL_ADD and a DEL per delivery (two of the six system calls of
 * one). Sockets whose whole life the loop is told about (loop_adopt when
 * opened, loop_forget just before they are closed: libcurl's connection
 * sockets) are unwatched lazily instead: they stay in the epoll set with
 * the interest they had, and a later watch with the same interest costs
 * nothing. Should one of them report an event while unwanted (a pooled
 * connection closed by the server), it is taken out of the set then.
 * Other fds (the Redis wires', curl's resolver) are added and removed at once:
 * they may be closed without the loop knowing, and only a closed fd
 * drops out of an epoll set by itself.
 */
#include <sys/epoll.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loop.h"
#include "timeutil.h"

#define EVENTS_MAX	256

struct watch {
	loop_io_cb	 cb;
	void		*arg;
	int		 events;	/* what the owner wants now */
	int		 kernel;	/* adopted fd: what the epoll set has */
	int		 adopted;	/* loop_adopt()ed: unwatched lazily */
};

static int			 efd = -1;
static struct watch		*watches;
static size_t			 nwatches;
static struct loop_timer	*timers;

int
loop_init(void)
{
	if ((efd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		return (-1);
	return (0);
}

void
loop_free(void)
{
	if (efd != -1)
		(void)close(efd);
	efd = -1;
	free(watches);
	watches = NULL;
	nwatches = 0;
}

static int
watch_grow(int fd)
{
	struct watch	*w;
	size_t		 n;

	if ((size_t)fd < nwatches)
		return (0);
	n = nwatches ? nwatches : 64;
	while (n <= (size_t)fd)
		n *= 2;
	if ((w = realloc(watches, n * sizeof(*w))) == NULL)
		return (-1);
	memset(w + nwatches, 0, (n - nwatches) * sizeof(*w));
	watches = w;
	nwatches = n;
	return (0);
}

int
loop_adopt(int fd)
{
	if (fd < 0 || watch_grow(fd) == -1)
		return (-1);
	/* A new socket is in no epoll set, whatever this number was. */
	memset(&watches[fd], 0, sizeof(watches[fd]));
	watches[fd].adopted = 1;
	return (0);
}

void
loop_forget(int fd)
{
	/* Closing it takes it out of the epoll set. */
	if (fd >= 0 && (size_t)fd < nwatches)
		memset(&watches[fd], 0, sizeof(watches[fd]));
}

static uint32_t
epoll_mask(int events)
{
	return (((events & LOOP_READ) ? EPOLLIN : 0) |
	    ((events & LOOP_WRITE) ? EPOLLOUT : 0));
}

/*
 * fd into the epoll set with interest events: MOD if it is there
 * (registered), else ADD. A refusal that says the set holds it otherwise
 * (closed and reused behind our back) is answered with the other op.
 */
static int
epoll_set(int fd, int registered, int events)
{
	struct epoll_event	ev;
	int			op;

	memset(&ev, 0, sizeof(ev));
	ev.events = epoll_mask(events);
	ev.data.fd = fd;
	op = registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	if (epoll_ctl(efd, op, fd, &ev) == 0)
		return (0);
	if (op == EPOLL_CTL_MOD && errno == ENOENT)
		op = EPOLL_CTL_ADD;
	else if (op == EPOLL_CTL_ADD && errno == EEXIST)
		op = EPOLL_CTL_MOD;
	else
		return (-1);
	return (epoll_ctl(efd, op, fd, &ev));
}

/* fd out of the epoll set; one no longer in it (or closed) is fine. */
static int
epoll_del(int fd)
{
	if (epoll_ctl(efd, EPOLL_CTL_DEL, fd, NULL) == -1 &&
	    errno != ENOENT && errno != EBADF)
		return (-1);
	return (0);
}

/* An adopted fd: the epoll set is changed only when the interest is. */
static int
watch_adopted(struct watch *w, int fd, int events, loop_io_cb cb, void *arg)
{
	w->cb = cb;
	w->arg = arg;
	w->events = events;
	if (events == 0 || events == w->kernel)
		return (0);
	if (epoll_set(fd, w->kernel != 0, events) == -1) {
		w->events = 0;
		return (-1);
	}
	w->kernel = events;
	return (0);
}

/* An adopted fd reported an event nobody wants: out of the set now. */
static void
unwatch_now(struct watch *w, int fd)
{
	if (epoll_del(fd) == 0)
		w->kernel = 0;
}

int
loop_watch(int fd, int events, loop_io_cb cb, void *arg)
{
	if (fd < 0 || watch_grow(fd) == -1)
		return (-1);
	if (watches[fd].adopted)
		return (watch_adopted(&watches[fd], fd, events, cb, arg));
	if (events == 0) {
		if (watches[fd].events != 0 && epoll_del(fd) == -1)
			return (-1);
		memset(&watches[fd], 0, sizeof(watches[fd]));
		return (0);
	}
	if (epoll_set(fd, watches[fd].events != 0, events) == -1)
		return (-1);
	watches[fd].cb = cb;
	watches[fd].arg = arg;
	watches[fd].events = events;
	return (0);
}

void
loop_timer_init(struct loop_timer *t, loop_timer_cb cb, void *arg)
{
	memset(t, 0, sizeof(*t));
	t->cb = cb;
	t->arg = arg;
}

void
loop_timer_arm(struct loop_timer *t, int64_t ms)
{
	struct loop_timer	*it;

	t->due = wh_mono_ms() + (ms < 0 ? 0 : ms);
	for (it = timers; it != NULL; it = it->next) {
		if (it == t)
			return;
	}
	t->next = timers;
	timers = t;
}

void
loop_timer_disarm(struct loop_timer *t)
{
	struct loop_timer	**pp;

	t->due = 0;
	for (pp = &timers; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			t->next = NULL;
			return;
		}
	}
}

/* Run every due timer; a callback may re-arm its own or others. */
static void
timers_run(void)
{
	struct loop_timer	*t;
	int64_t			 now;
	int			 fired;

	do {
		fired = 0;
		now = wh_mono_ms();
		for (t = timers; t != NULL; t = t->next) {
			if (t->due != 0 && t->due <= now) {
				loop_timer_disarm(t);
				t->cb(t->arg);
				fired = 1;
				break;	/* the list may have changed */
			}
		}
	} while (fired);
}

static int
timers_next(int max_ms)
{
	struct loop_timer	*t;
	int64_t			 now, wait = max_ms;

	now = wh_mono_ms();
	for (t = timers; t != NULL; t = t->next) {
		if (t->due != 0 && t->due - now < wait)
			wait = t->due - now;
	}
	return (wait < 0 ? 0 : (int)wait);
}

int
loop_run_once(int max_ms)
{
	struct epoll_event	 evs[EVENTS_MAX];
	struct watch		*w;
	int			 n, i, fd, what;

	n = epoll_wait(efd, evs, EVENTS_MAX, timers_next(max_ms));
	if (n == -1 && errno != EINTR)
		return (-1);
	for (i = 0; i < n; i++) {
		fd = evs[i].data.fd;
		if ((size_t)fd >= nwatches)
			continue;
		w = &watches[fd];
		if (w->adopted && w->events == 0) {
			unwatch_now(w, fd);
			continue;
		}
		if (w->cb == NULL)
			continue;
		what = 0;
		if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
			what |= LOOP_READ;
		if (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			what |= LOOP_WRITE;
		w->cb(fd, what & (w->events | LOOP_READ), w->arg);
	}
	timers_run();
	return (0);
}
