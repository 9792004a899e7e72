/* Starting a worker process with chosen descriptors: what the master needs and the JDK cannot do (Java
 * cannot fork, and ProcessBuilder passes no descriptor but 0, 1 and 2). Plain C, no JNI and no Python:
 * bridge_process_jni.c wraps it for dev.bridge.master.Posix, test_spawn_fds.c tests it. */
#ifndef BRIDGE_SPAWN_FDS_H
#define BRIDGE_SPAWN_FDS_H

#include <sys/types.h>

/* Spawns file (searched on PATH) with argv and envp (both NULL-terminated). The child gets /dev/null as
 * its stdin, our stdout and stderr, inherit[0..ninherit) at descriptors first_fd, first_fd+1, ..., and
 * none of open_fds[0..nopen) (the caller's open descriptors) besides those. Returns 0 and the child's pid
 * in *pid, or an errno value. */
int spawn_with_fds(const char *file, char *const argv[], char *const envp[], const int *inherit, int ninherit,
                   int first_fd, const int *open_fds, int nopen, pid_t *pid);

#endif
