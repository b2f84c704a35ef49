/*
 * test_loop.c: the dispatcher's event loop (dispatcher/loop.c), on real
 * sockets: watching, unwatching at once (any fd) and lazily (adopted
 * fds, libcurl's connections), an unwanted event taking an adopted fd
 * out of the epoll set, and fd numbers reused after close.
 */
#include <sys/socket.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "loop.h"
#include "timeutil.h"

static int	calls, last_fd, last_events;

static void
on_io(int fd, int events, void *arg)
{
	(void)arg;
	calls++;
	last_fd = fd;
	last_events = events;
}

static int
setup(void **state)
{
	(void)state;
	calls = 0;
	return (loop_init());
}

static int
teardown(void **state)
{
	(void)state;
	loop_free();
	return (0);
}

/* One round of at most ms; how long it took. */
static int64_t
round_ms(int ms)
{
	int64_t	t0 = wh_mono_ms();

	assert_int_equal(loop_run_once(ms), 0);
	return (wh_mono_ms() - t0);
}

static void
test_watch_unwatch(void **state)
{
	int	sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(loop_watch(sv[0], LOOP_READ, on_io, NULL), 0);
	assert_int_equal(write(sv[1], "x", 1), 1);
	(void)round_ms(1000);
	assert_int_equal(calls, 1);
	assert_int_equal(last_fd, sv[0]);
	assert_true(last_events & LOOP_READ);
	/* Not adopted: out of the set at once; the pending byte is quiet. */
	assert_int_equal(loop_watch(sv[0], 0, NULL, NULL), 0);
	assert_true(round_ms(150) >= 100);
	assert_int_equal(calls, 1);
	close(sv[0]);
	close(sv[1]);
}

static void
test_adopted_lazy(void **state)
{
	int	sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(loop_adopt(sv[0]), 0);
	assert_int_equal(loop_watch(sv[0], LOOP_READ, on_io, NULL), 0);
	assert_int_equal(write(sv[1], "x", 1), 1);
	(void)round_ms(1000);
	assert_int_equal(calls, 1);

	/* Unwatched and watched again with nothing between: still works. */
	assert_int_equal(loop_watch(sv[0], 0, NULL, NULL), 0);
	assert_int_equal(loop_watch(sv[0], LOOP_READ, on_io, NULL), 0);
	(void)round_ms(1000);
	assert_int_equal(calls, 2);

	/*
	 * Unwatched lazily: the pending byte wakes the loop once, nobody is
	 * called, and the fd leaves the set (the next round sleeps).
	 */
	assert_int_equal(loop_watch(sv[0], 0, NULL, NULL), 0);
	(void)round_ms(1000);
	assert_int_equal(calls, 2);
	assert_true(round_ms(150) >= 100);
	assert_int_equal(calls, 2);

	/* Wanted again after that: added back. */
	assert_int_equal(loop_watch(sv[0], LOOP_READ | LOOP_WRITE, on_io,
	    NULL), 0);
	(void)round_ms(1000);
	assert_int_equal(calls, 3);
	assert_true(last_events & LOOP_WRITE);
	loop_forget(sv[0]);
	close(sv[0]);
	close(sv[1]);
}

/* A closed adopted fd's number, reused by a new socket, is watched anew. */
static void
test_adopted_reuse(void **state)
{
	int	a[2], b[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, a), 0);
	assert_int_equal(loop_adopt(a[0]), 0);
	assert_int_equal(loop_watch(a[0], LOOP_READ, on_io, NULL), 0);
	assert_int_equal(loop_watch(a[0], 0, NULL, NULL), 0);
	loop_forget(a[0]);
	close(a[0]);
	close(a[1]);

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, b), 0);
	assert_int_equal(b[0], a[0]);	/* the lowest free number again */
	assert_int_equal(loop_adopt(b[0]), 0);
	assert_int_equal(loop_watch(b[0], LOOP_READ, on_io, NULL), 0);
	assert_int_equal(write(b[1], "y", 1), 1);
	(void)round_ms(1000);
	assert_int_equal(calls, 1);
	assert_int_equal(last_fd, b[0]);
	loop_forget(b[0]);
	close(b[0]);

	/* And by a socket the loop does not adopt (hiredis'). */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, a), 0);
	assert_int_equal(a[0], b[0]);
	assert_int_equal(loop_watch(a[0], LOOP_READ, on_io, NULL), 0);
	assert_int_equal(write(a[1], "z", 1), 1);
	(void)round_ms(1000);
	assert_int_equal(calls, 2);
	assert_int_equal(loop_watch(a[0], 0, NULL, NULL), 0);
	close(a[0]);
	close(a[1]);
	close(b[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_watch_unwatch, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_adopted_lazy, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_adopted_reuse, setup,
		    teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
