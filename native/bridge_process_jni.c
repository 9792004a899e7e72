/* The JNI side of dev.bridge.master.Posix: the few process calls the master makes that the JDK lacks.
 * Each returns 0 (or a pid) on success and -errno on failure, and sets no Java exception except
 * OutOfMemoryError when it cannot copy its arguments. Called from the master's main thread (and from
 * `bridge reload`; reopenStdio from a worker's event loop too), never concurrently with itself on one object:
 * no state here. */
#include <errno.h>
#include <fcntl.h>
#include <jni.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <malloc.h>
#include <netinet/tcp.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jni_bytes.h"
#include "spawn_fds.h"

static void free_strings(char **s) {
    if (s != NULL) {
        for (char **p = s; *p != NULL; p++) {
            free(*p);
        }
        free(s);
    }
}

/* A Java String[] as a NULL-terminated char*[] of modified UTF-8 (paths, flags and environment entries);
 * NULL when memory ran out. */
static char **strings(JNIEnv *env, jobjectArray array) {
    jsize n = (*env)->GetArrayLength(env, array);
    char **out = calloc((size_t)n + 1, sizeof *out);
    for (jsize i = 0; out != NULL && i < n; i++) {
        jstring s = (jstring)(*env)->GetObjectArrayElement(env, array, i);
        const char *utf = s == NULL ? NULL : (*env)->GetStringUTFChars(env, s, NULL);
        if (utf != NULL) {
            size_t len = (size_t)(*env)->GetStringUTFLength(env, s);
            out[i] = malloc(len + 1);
            if (out[i] != NULL) {
                memcpy(out[i], utf, len);
                out[i][len] = '\0';
            }
            (*env)->ReleaseStringUTFChars(env, s, utf);
        }
        if (s != NULL) {
            (*env)->DeleteLocalRef(env, s);
        }
        if (out[i] == NULL) { /* calloc left the rest NULL: free_strings stops at this one */
            free_strings(out);
            out = NULL;
        }
    }
    return out;
}

static void out_of_memory(JNIEnv *env) {
    if (!(*env)->ExceptionCheck(env)) {
        jclass oom = (*env)->FindClass(env, "java/lang/OutOfMemoryError");
        if (oom != NULL) {
            (*env)->ThrowNew(env, oom, "copying the arguments of posix_spawn");
        }
    }
}

JNIEXPORT jlong JNICALL Java_dev_bridge_master_Posix_spawn(JNIEnv *env, jclass cls, jobjectArray argv,
                                                          jobjectArray envp, jintArray inherit, jint firstFd,
                                                          jintArray openFds) {
    (void)cls;
    char **args = strings(env, argv);
    char **environment = args == NULL ? NULL : strings(env, envp);
    jint *in = environment == NULL ? NULL : (*env)->GetIntArrayElements(env, inherit, NULL);
    jint *open = in == NULL ? NULL : (*env)->GetIntArrayElements(env, openFds, NULL);
    jlong result = -ENOMEM;
    if (open == NULL) {
        out_of_memory(env);
    } else {
        pid_t pid = 0;
        int rc = spawn_with_fds(args[0], args, environment, (const int *)in, (*env)->GetArrayLength(env, inherit),
                                firstFd, (const int *)open, (*env)->GetArrayLength(env, openFds), &pid);
        result = rc == 0 ? (jlong)pid : -(jlong)rc;
    }
    if (open != NULL) {
        (*env)->ReleaseIntArrayElements(env, openFds, open, JNI_ABORT);
    }
    if (in != NULL) {
        (*env)->ReleaseIntArrayElements(env, inherit, in, JNI_ABORT);
    }
    free_strings(environment);
    free_strings(args);
    return result;
}

JNIEXPORT jint JNICALL Java_dev_bridge_master_Posix_socketpair(JNIEnv *env, jclass cls, jintArray fds) {
    (void)cls;
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair) != 0) {
        return -errno;
    }
    jint out[2] = {pair[0], pair[1]};
    (*env)->SetIntArrayRegion(env, fds, 0, 2, out);
    return 0;
}

JNIEXPORT jint JNICALL Java_dev_bridge_master_Posix_waitNoHang(JNIEnv *env, jclass cls, jlong pid, jintArray status) {
    (void)cls;
    int st = 0;
    pid_t r = waitpid((pid_t)pid, &st, WNOHANG);
    if (r < 0) {
        return -errno;
    }
    jint out = st;
    (*env)->SetIntArrayRegion(env, status, 0, 1, &out);
    return (jint)r;
}

JNIEXPORT jint JNICALL Java_dev_bridge_master_Posix_kill(JNIEnv *env, jclass cls, jlong pid, jint signal) {
    (void)env;
    (void)cls;
    return kill((pid_t)pid, signal) == 0 ? 0 : -errno;
}

JNIEXPORT jint JNICALL Java_dev_bridge_master_Posix_close(JNIEnv *env, jclass cls, jint fd) {
    (void)env;
    (void)cls;
    return close(fd) == 0 ? 0 : -errno;
}

JNIEXPORT jint JNICALL Java_dev_bridge_master_Posix_defaultSignal(JNIEnv *env, jclass cls, jint signum) {
    (void)env;
    (void)cls;
    struct sigaction sa = {.sa_handler = SIG_DFL};
    sigemptyset(&sa.sa_mask);
    return sigaction(signum, &sa, NULL) == 0 ? 0 : -errno;
}

JNIEXPORT jint JNICALL Java_dev_bridge_master_Posix_mallocTrim(JNIEnv *env, jclass cls) {
    (void)env;
    (void)cls;
    return malloc_trim(0);
}

/* The end of a listener's set-up: listen(2), or close the socket and return -errno. */
static jint listening(int fd, int backlog) {
    if (listen(fd, backlog) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

/* A non-blocking TCP listener (SO_REUSEADDR) on a 4-byte IPv4 or 16-byte IPv6 address; the fd or -errno.
 * Non-blocking because the flag belongs to the socket, which every worker shares. */
JNIEXPORT jint JNICALL Java_dev_bridge_master_Posix_listenInet(JNIEnv *env, jclass cls, jbyteArray address,
                                                              jint port, jint backlog) {
    (void)cls;
    jsize n = (*env)->GetArrayLength(env, address);
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t len;
    if (n == 4) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        (*env)->GetByteArrayRegion(env, address, 0, 4, (jbyte *)&in->sin_addr);
        len = sizeof *in;
    } else if (n == 16) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        (*env)->GetByteArrayRegion(env, address, 0, 16, (jbyte *)&in6->sin6_addr);
        len = sizeof *in6;
    } else {
        return -EINVAL;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -errno;
    }
    int on = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 || bind(fd, (struct sockaddr *)&ss, len) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return listening(fd, backlog);
}

/* A non-blocking unix stream listener at path (bytes, not NUL-terminated); the fd or -errno. */
JNIEXPORT jint JNICALL Java_dev_bridge_master_Posix_listenUnix(JNIEnv *env, jclass cls, jbyteArray path, jint backlog) {
    (void)cls;
    struct sockaddr_un un;
    int alen = jni_unix_address(env, path, &un);
    if (alen < 0) {
        return alen;
    }
    if (un.sun_path[0] == '\0') {
        return -EINVAL; /* a socket file: the master removes it at exit; no abstract names */
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -errno;
    }
    if (bind(fd, (struct sockaddr *)&un, sizeof un) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return listening(fd, backlog);
}

/* The port a TCP listener got (it asked for 0 to be given one), or -errno. */
JNIEXPORT jint JNICALL Java_dev_bridge_master_Posix_localPort(JNIEnv *env, jclass cls, jint fd) {
    (void)env;
    (void)cls;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
        return -errno;
    }
    return ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                    : ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* strerror(3): what an errno means, for the log. */
JNIEXPORT jstring JNICALL Java_dev_bridge_master_Posix_strerror(JNIEnv *env, jclass cls, jint errnum) {
    (void)cls;
    char buf[128];
    if (strerror_r(errnum, buf, sizeof buf) != 0) { /* the XSI strerror_r */
        snprintf(buf, sizeof buf, "errno %d", (int)errnum);
    }
    return (*env)->NewStringUTF(env, buf);
}

/* A unix listening socket's accept queue through sock_diag (the kernel reports it for no other call): the
 * socket is found by its inode. Returns 0 and sets queue and max, or -errno. */
static int unix_queue(int fd, unsigned *queue, unsigned *max) {
    struct stat st;
    if (fstat(fd, &st) < 0) {
        return -errno;
    }
    int nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (nl < 0) {
        return -errno;
    }
    struct {
        struct nlmsghdr nlh;
        struct unix_diag_req req;
    } msg = {
        .nlh = {.nlmsg_len = sizeof msg, .nlmsg_type = SOCK_DIAG_BY_FAMILY, .nlmsg_flags = NLM_F_REQUEST},
        .req = {.sdiag_family = AF_UNIX, .udiag_states = 1 << 10 /* TCP_LISTEN */, .udiag_ino = (__u32)st.st_ino,
                .udiag_show = UDIAG_SHOW_RQLEN, .udiag_cookie = {~0U, ~0U} /* any cookie: INET_DIAG_NOCOOKIE */},
    };
    int rc = -ENOENT;
    if (send(nl, &msg, sizeof msg, 0) < 0) {
        rc = -errno;
    } else {
        long buf[1024];
        ssize_t n = recv(nl, buf, sizeof buf, 0);
        if (n < 0) {
            rc = -errno;
        }
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; n > 0 && NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_type == NLMSG_ERROR) {
                struct nlmsgerr *e = NLMSG_DATA(h);
                rc = e->error < 0 ? e->error : -EPROTO;
                break;
            }
            if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY) {
                continue;
            }
            struct unix_diag_msg *m = NLMSG_DATA(h);
            int left = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof *m));
            for (struct rtattr *a = (struct rtattr *)(m + 1); RTA_OK(a, left); a = RTA_NEXT(a, left)) {
                if (a->rta_type == UNIX_DIAG_RQLEN && RTA_PAYLOAD(a) >= sizeof(struct unix_diag_rqlen)) {
                    struct unix_diag_rqlen *q = RTA_DATA(a);
                    *queue = q->udiag_rqueue;
                    *max = q->udiag_wqueue;
                    rc = 0;
                }
            }
        }
    }
    close(nl);
    return rc;
}

/* A listening socket's accept queue, from the kernel: (connections waiting << 32) | the queue's length, or
 * -errno. TCP: TCP_INFO (tcpi_unacked and tcpi_sacked are the queue and its length on a listener); unix:
 * sock_diag. */
JNIEXPORT jlong JNICALL Java_dev_bridge_master_Posix_listenQueue(JNIEnv *env, jclass cls, jint fd) {
    (void)env;
    (void)cls;
    struct sockaddr_storage a;
    socklen_t alen = sizeof a;
    if (getsockname(fd, (struct sockaddr *)&a, &alen) < 0) {
        return -errno;
    }
    unsigned queue = 0, max = 0;
    if (a.ss_family == AF_UNIX) {
        int rc = unix_queue(fd, &queue, &max);
        if (rc < 0) {
            return rc;
        }
    } else {
        struct tcp_info info;
        socklen_t len = sizeof info;
        if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) < 0) {
            return -errno;
        }
        queue = info.tcpi_unacked;
        max = info.tcpi_sacked;
    }
    return (jlong)(((unsigned long long)queue << 32) | max);
}

/* --logto: opens path (appending, created 0644) and makes it this process's stdout and stderr; 0 or -errno. dup2
 * swaps each descriptor at once, so a line written meanwhile lands whole in the old file or the new one. The
 * master calls it at start and on SIGUSR1 (logrotate), and each worker when the master says REOPEN. */
JNIEXPORT jint JNICALL Java_dev_bridge_master_Posix_reopenStdio(JNIEnv *env, jclass cls, jbyteArray path) {
    (void)cls;
    char name[4096];
    int checked = jni_c_string(env, path, name, sizeof name);
    if (checked != 0) {
        return checked;
    }
    int fd = open(name, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        return -errno;
    }
    int rc = 0;
    if ((fd != 1 && dup2(fd, 1) < 0) || (fd != 2 && dup2(fd, 2) < 0)) {
        rc = -errno;
    }
    if (fd > 2) { /* else it was free (closed stdout or stderr) and is one of them now */
        close(fd);
    }
    return rc;
}
