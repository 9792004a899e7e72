/* spawn_with_fds under ASan/UBSan (native/check): a child gets the descriptors it was given, at the
 * numbers it was given, /dev/null as stdin, and nothing else of ours. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spawn_fds.h"

extern char **environ;

/* Runs sh -c script in a child given inherit at 3..; returns its exit status (or -1). */
static int run(const char *script, const int *inherit, int ninherit, const int *open_fds, int nopen) {
    char *argv[] = {"sh", "-c", (char *)script, NULL};
    pid_t pid;
    int rc = spawn_with_fds("sh", argv, environ, inherit, ninherit, 3, open_fds, nopen, &pid);
    if (rc != 0) {
        fprintf(stderr, "spawn failed: %s\n", strerror(rc));
        return -1;
    }
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) {
        return -1;
    }
    return WEXITSTATUS(status);
}

int main(void) {
    /* Two pipes whose write ends sit at numbers the child wants for something else: the second's
     * write end goes to 3, the first's to 4, and every other descriptor of ours is closed. */
    int a[2], b[2];
    assert(pipe(a) == 0 && pipe(b) == 0);
    int open_fds[] = {a[0], a[1], b[0], b[1]};
    int inherit[] = {b[1], a[1]};
    const char *script =
        "[ -e /proc/self/fd/3 ] && [ -e /proc/self/fd/4 ] || exit 10;"
        "for fd in 5 6 7 8; do [ -e /proc/self/fd/$fd ] && exit 11; done;"
        "[ \"$(readlink /proc/self/fd/0)\" = /dev/null ] || exit 12;"
        "printf three >&3; printf four >&4; exit 0";
    assert(run(script, inherit, 2, open_fds, 4) == 0);
    close(a[1]);
    close(b[1]);
    char buf[16] = {0};
    assert(read(b[0], buf, sizeof buf - 1) == 5 && strcmp(buf, "three") == 0);
    memset(buf, 0, sizeof buf);
    assert(read(a[0], buf, sizeof buf - 1) == 4 && strcmp(buf, "four") == 0);
    close(a[0]);
    close(b[0]);

    /* Nothing inherited: 3 is not open in the child. */
    assert(run("[ -e /proc/self/fd/3 ] && exit 1; exit 0", NULL, 0, NULL, 0) == 0);

    /* A program that is not there: an errno, no child. */
    char *argv[] = {"/nonexistent/bridge-test", NULL};
    pid_t pid;
    assert(spawn_with_fds(argv[0], argv, environ, NULL, 0, 3, NULL, 0, &pid) == ENOENT);
    puts("test_spawn_fds: ok");
    return 0;
}
