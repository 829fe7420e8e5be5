/*
 * A lying executor for the security suite: on its sync socket (fd 0) it
 * reports a fork whose child is a process of the test's choosing (VICTIM,
 * its pid, given at compile time: -DVICTIM=N), then an unknown message, then
 * waits to be killed. attachkit must not take that pid for a process of its
 * own (it is not its child), signal nothing, and fail the attach with one
 * error, without crashing.
 */
#include <stdint.h>
#include <unistd.h>

int main(void)
{
	int32_t pid[4] = { 2, 0, VICTIM, 0 }, unknown[4] = { 99, 0, 0, 0 };
	char buf[4096];

	/* Its fds and program arrive first; read a little, then lie. */
	(void)read(0, buf, sizeof(buf));
	if (write(0, pid, sizeof(pid)) != sizeof(pid) || write(0, unknown, sizeof(unknown)) != sizeof(unknown))
		return 1;
	for (;;)
		pause();
}
