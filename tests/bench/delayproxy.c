/*
 * delayproxy.c: a TCP proxy on loopback that holds every byte for a fixed
 * time in each direction, so that make bench can put Redis "1 ms away"
 * (0.5 ms each way) from the api and show that the api does not fall to
 * the rate that blocking Redis calls would allow.
 *
 *   delayproxy LISTEN_PORT UPSTREAM_PORT DELAY_US
 *
 * Listens on 127.0.0.1:LISTEN_PORT, connects each client to
 * 127.0.0.1:UPSTREAM_PORT and prints "ready" once listening.
 *
 * Written in C rather than Node because the delay is sub-millisecond:
 * Node's (libuv's) timers count whole milliseconds, so 0.5 ms would become
 * 1 ms or more each way. Here a timerfd with an absolute CLOCK_MONOTONIC
 * deadline and a 1 ns timer slack releases data within a few microseconds
 * of its due time on an idle core.
 *
 * The delay is the same for every byte, so one global FIFO of chunks in
 * arrival order is also in due-time order: the head is always the next
 * chunk to release, and per-connection ordering is kept for free. Nothing
 * is throttled (no backpressure): the clients in the bench bound what they
 * have in flight themselves.
 */
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define READ_MAX	65536

struct conn;

/* One side of a connection: what epoll hands back. */
struct end {
	struct conn	*c;
	int		 side;		/* 0: the client, 1: upstream */
};

/* Bytes due but not yet accepted by the kernel for one side. */
struct obuf {
	char		*data;
	size_t		 len, cap;
};

struct conn {
	int		 fd[2];
	struct end	 ends[2];
	struct obuf	 out[2];	/* waiting to be written to fd[i] */
	int		 refs;		/* chunks still queued for it */
	int		 dead;
};

struct chunk {
	struct chunk	*next;
	struct conn	*c;
	int		 to;		/* side the bytes go to */
	int		 close;		/* an end of stream, not data */
	uint64_t	 due_ns;
	size_t		 len;
	char		 data[];
};

static struct chunk	*head, *tail;
static int		 ep, tfd, lfd;
static uint64_t		 delay_ns;
static uint16_t		 upstream_port;
/* Markers for the listening socket and the timer in epoll's data. */
static struct end	 listen_mark, timer_mark;

static void
die(const char *what)
{
	perror(what);
	exit(1);
}

static uint64_t
now_ns(void)
{
	struct timespec	ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec);
}

static void
arm_timer(void)
{
	struct itimerspec	its;

	memset(&its, 0, sizeof(its));
	if (head != NULL) {
		its.it_value.tv_sec = (time_t)(head->due_ns / 1000000000ULL);
		its.it_value.tv_nsec = (long)(head->due_ns % 1000000000ULL);
		if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
			its.it_value.tv_nsec = 1;
	}
	if (timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL) == -1)
		die("timerfd_settime");
}

static void
watch(struct conn *c, int side)
{
	struct epoll_event	ev;

	ev.events = EPOLLIN | (c->out[side].len > 0 ? EPOLLOUT : 0);
	ev.data.ptr = &c->ends[side];
	/* ENOENT: the peer ended the stream and the fds left epoll. */
	if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd[side], &ev) == -1 &&
	    errno != ENOENT)
		die("epoll_ctl");
}

static void
conn_close(struct conn *c)
{
	int	i;

	if (c->dead)
		return;
	c->dead = 1;
	for (i = 0; i < 2; i++) {
		(void)close(c->fd[i]);	/* also leaves epoll */
		free(c->out[i].data);
		c->out[i].data = NULL;
		c->out[i].len = 0;
	}
}

static void
conn_unref(struct conn *c)
{
	if (--c->refs == 0 && c->dead)
		free(c);
}

static void
enqueue(struct conn *c, int to, const char *data, size_t len, int is_close)
{
	struct chunk	*k;

	if ((k = malloc(sizeof(*k) + len)) == NULL)
		die("malloc");
	k->next = NULL;
	k->c = c;
	k->to = to;
	k->close = is_close;
	k->due_ns = now_ns() + delay_ns;
	k->len = len;
	if (len > 0)
		memcpy(k->data, data, len);
	c->refs++;
	if (tail == NULL) {
		head = tail = k;
		arm_timer();
	} else {
		tail->next = k;
		tail = k;
	}
}

/* Write what is pending for one side; keep the rest for EPOLLOUT. */
static void
flush(struct conn *c, int side)
{
	struct obuf	*o = &c->out[side];
	ssize_t		 n;
	size_t		 done = 0;

	while (done < o->len) {
		n = write(c->fd[side], o->data + done, o->len - done);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		conn_close(c);
		return;
	}
	memmove(o->data, o->data + done, o->len - done);
	o->len -= done;
	watch(c, side);
}

static void
deliver(struct chunk *k)
{
	struct conn	*c = k->c;
	struct obuf	*o = &c->out[k->to];
	int		 was_empty = o->len == 0;

	if (c->dead)
		return;
	if (k->close) {
		conn_close(c);
		return;
	}
	if (o->len + k->len > o->cap) {
		o->cap = (o->len + k->len) * 2;
		if ((o->data = realloc(o->data, o->cap)) == NULL)
			die("realloc");
	}
	memcpy(o->data + o->len, k->data, k->len);
	o->len += k->len;
	if (was_empty)
		flush(c, k->to);
}

static void
release_due(void)
{
	struct chunk	*k;
	uint64_t	 now = now_ns();

	while (head != NULL && head->due_ns <= now) {
		k = head;
		head = k->next;
		if (head == NULL)
			tail = NULL;
		deliver(k);
		conn_unref(k->c);
		free(k);
	}
	arm_timer();
}

static void
nonblock_nodelay(int fd)
{
	int	one = 1;

	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == -1)
		die("fcntl");
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void
accept_one(void)
{
	struct sockaddr_in	 sin;
	struct epoll_event	 ev;
	struct conn		*c;
	int			 cfd, ufd, i;

	if ((cfd = accept(lfd, NULL, NULL)) == -1)
		return;
	/* A blocking connect on loopback is immediate. */
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(upstream_port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((ufd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    connect(ufd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		if (ufd != -1)
			(void)close(ufd);
		(void)close(cfd);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		die("calloc");
	c->fd[0] = cfd;
	c->fd[1] = ufd;
	for (i = 0; i < 2; i++) {
		nonblock_nodelay(c->fd[i]);
		c->ends[i].c = c;
		c->ends[i].side = i;
		ev.events = EPOLLIN;
		ev.data.ptr = &c->ends[i];
		if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd[i], &ev) == -1)
			die("epoll_ctl");
	}
	c->refs = 1;	/* held by the open connection itself */
}

static void
readable(struct conn *c, int side)
{
	char	buf[READ_MAX];
	ssize_t	n;

	for (;;) {
		n = read(c->fd[side], buf, sizeof(buf));
		if (n > 0) {
			enqueue(c, !side, buf, (size_t)n, 0);
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		/* End of stream or error: close after the same delay. */
		enqueue(c, !side, NULL, 0, 1);
		c->refs--;	/* the connection no longer holds itself */
		(void)epoll_ctl(ep, EPOLL_CTL_DEL, c->fd[0], NULL);
		(void)epoll_ctl(ep, EPOLL_CTL_DEL, c->fd[1], NULL);
		return;
	}
}

int
main(int argc, char **argv)
{
	struct sockaddr_in	 sin;
	struct epoll_event	 ev, evs[64];
	struct end		*e;
	uint64_t		 ticks;
	int			 n, i, one = 1;

	if (argc != 4) {
		(void)fprintf(stderr, "usage: delayproxy LISTEN_PORT "
		    "UPSTREAM_PORT DELAY_US\n");
		return (2);
	}
	upstream_port = (uint16_t)atoi(argv[2]);
	delay_ns = (uint64_t)strtoull(argv[3], NULL, 10) * 1000ULL;
	(void)signal(SIGPIPE, SIG_IGN);
	/* Wake up at the due time, not up to 50 us later (the default). */
	(void)prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);

	if ((lfd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		die("socket");
	(void)setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)atoi(argv[1]));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(lfd, 1024) == -1)
		die("bind/listen");
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
	    (tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK)) == -1)
		die("epoll/timerfd");
	ev.events = EPOLLIN;
	ev.data.ptr = &listen_mark;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) == -1)
		die("epoll_ctl");
	ev.data.ptr = &timer_mark;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev) == -1)
		die("epoll_ctl");
	(void)printf("ready\n");
	(void)fflush(stdout);

	for (;;) {
		if ((n = epoll_wait(ep, evs, 64, -1)) == -1) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (i = 0; i < n; i++) {
			e = evs[i].data.ptr;
			if (e == &listen_mark) {
				accept_one();
			} else if (e == &timer_mark) {
				(void)read(tfd, &ticks, sizeof(ticks));
			} else if (!e->c->dead) {
				if (evs[i].events & EPOLLOUT)
					flush(e->c, e->side);
				if (!e->c->dead && (evs[i].events &
				    (EPOLLIN | EPOLLHUP | EPOLLERR)))
					readable(e->c, e->side);
			}
		}
		release_due();
	}
}
