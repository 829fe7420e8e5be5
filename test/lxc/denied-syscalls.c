/*
 * Calls syscalls that LXC's common.seccomp denies (errno 1), with arguments
 * the kernel refuses by itself without touching any state, and prints the
 * errno each one got: `kexec_load EPERM`. Under the profile that is the
 * profile's errno; without it the kernel's own: for kexec_load EINVAL (17
 * segments is more than KEXEC_SEGMENT_MAX) or ENOSYS without CONFIG_KEXEC,
 * for open_by_handle_at EFAULT (a NULL handle).
 * Built static by the differential suite and copied into the container.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static void report(const char *name, long ret) {
    printf("%s %s\n", name, ret == 0 ? "OK" : strerrorname_np(errno));
}

int main(void) {
    report("kexec_load", syscall(SYS_kexec_load, 0UL, 17UL, NULL, 0UL));
    report("open_by_handle_at", syscall(SYS_open_by_handle_at, -1, NULL, 0));
    return 0;
}
