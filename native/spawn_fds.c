#include "spawn_fds.h"

#include <fcntl.h>
#include <spawn.h>

int spawn_with_fds(const char *file, char *const argv[], char *const envp[], const int *inherit, int ninherit,
                   int first_fd, const int *open_fds, int nopen, pid_t *pid) {
    /* Above every open descriptor and every target: a source that sits at another's target number must
     * not be overwritten before it is copied, so each goes through a spare number first. */
    int spare = first_fd + ninherit;
    for (int i = 0; i < nopen; i++) {
        if (open_fds[i] >= spare) {
            spare = open_fds[i] + 1;
        }
    }
    posix_spawn_file_actions_t actions;
    int rc = posix_spawn_file_actions_init(&actions);
    if (rc != 0) {
        return rc;
    }
    rc = posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    for (int i = 0; rc == 0 && i < ninherit; i++) {
        rc = posix_spawn_file_actions_adddup2(&actions, inherit[i], spare + i);
    }
    for (int i = 0; rc == 0 && i < ninherit; i++) {
        rc = posix_spawn_file_actions_adddup2(&actions, spare + i, first_fd + i);
        if (rc == 0) {
            rc = posix_spawn_file_actions_addclose(&actions, spare + i);
        }
    }
    /* The JDK opens its jars without O_CLOEXEC, and a worker holding another worker's control socket
     * would keep that worker from ever seeing its master die: close everything else. */
    for (int i = 0; rc == 0 && i < nopen; i++) {
        if (open_fds[i] >= first_fd + ninherit) {
            rc = posix_spawn_file_actions_addclose(&actions, open_fds[i]);
        }
    }
    if (rc == 0) {
        rc = posix_spawnp(pid, file, &actions, NULL, argv, envp);
    }
    posix_spawn_file_actions_destroy(&actions);
    return rc;
}
