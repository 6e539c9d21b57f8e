/* Small real file systems for failure tests: a tmpfs of a given size (a full disk) or a
 * read-only one, mounted in a mount namespace private to the test's process (Criterion runs
 * each test in a process of its own), so nothing is left mounted when the test ends. Needs
 * CAP_SYS_ADMIN or unprivileged user namespaces; the callers say what they do without. */
#ifndef EMBER_TESTS_MOUNT_FIXTURE_H
#define EMBER_TESTS_MOUNT_FIXTURE_H

#include <criterion/criterion.h>
#include <errno.h>
#include <glib.h>
#include <sched.h>
#include <stdbool.h>
#include <sys/mount.h>
#include <sys/stat.h>

/* Gives the process a mount namespace of its own; false (errno set) when it cannot. */
static inline bool private_mount_namespace(void)
{
    if (unshare(CLONE_NEWNS) != 0 && unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0)
        return false;
    return mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0;
}

/* Mounts a tmpfs of size bytes at dir (created); false with errno when mounting is not
 * possible here. */
static inline bool mount_tmpfs(const char *dir, size_t size)
{
    if (g_mkdir_with_parents(dir, 0755) != 0 || !private_mount_namespace())
        return false;
    g_autofree char *opts = g_strdup_printf("size=%zu,mode=0755", size);
    return mount("tmpfs", dir, "tmpfs", 0, opts) == 0;
}

/* Makes the tmpfs at dir read-only from now on. */
static inline bool remount_read_only(const char *dir)
{
    return mount(NULL, dir, NULL, MS_REMOUNT | MS_RDONLY, NULL) == 0;
}

#endif
