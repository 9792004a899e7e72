/* The JNI side of dev.bridge.master.Posix for systemd (and for a bridge handing its listeners to its successor):
 * taking over a listening socket inherited at a descriptor (LISTEN_FDS), and sd_notify's datagram. Called from
 * the master's main thread. Returns 0 or -errno unless said otherwise; no Java exception but OutOfMemoryError. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jni.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "jni_bytes.h"

/* What an inherited descriptor listens on: "tcp ADDRESS PORT" or "unix PATH" ("unix @NAME" for the abstract
 * namespace); null when fd is no listening stream socket. It is made non-blocking (the workers' event loops
 * and C loops expect it) and close-on-exec (the master hands it to each worker itself). */
JNIEXPORT jstring JNICALL Java_dev_bridge_master_Posix_adoptListener(JNIEnv *env, jclass cls, jint fd) {
    (void)cls;
    struct stat st;
    int type = 0;
    int listening = 0;
    socklen_t len = sizeof type;
    if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode) || getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 ||
        type != SOCK_STREAM) {
        return NULL;
    }
    len = sizeof listening;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening) {
        return NULL;
    }
    struct sockaddr_storage ss;
    len = sizeof ss;
    memset(&ss, 0, sizeof ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
        return NULL;
    }
    char out[256];
    char host[INET6_ADDRSTRLEN];
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        snprintf(out, sizeof out, "tcp %s %u", host, (unsigned)ntohs(in->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        snprintf(out, sizeof out, "tcp %s %u", host, (unsigned)ntohs(in6->sin6_port));
    } else if (ss.ss_family == AF_UNIX) {
        struct sockaddr_un *un = (struct sockaddr_un *)&ss;
        size_t n = len > offsetof(struct sockaddr_un, sun_path) ? len - offsetof(struct sockaddr_un, sun_path) : 0;
        if (n > 0 && un->sun_path[0] == '\0') {
            snprintf(out, sizeof out, "unix @%.*s", (int)(n - 1), un->sun_path + 1);
        } else {
            snprintf(out, sizeof out, "unix %.*s", (int)strnlen(un->sun_path, n), un->sun_path);
        }
    } else {
        return NULL;
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
        return NULL;
    }
    return (*env)->NewStringUTF(env, out);
}

/* sd_notify(3): sends message as one datagram to the unix socket at path ("@NAME": the abstract namespace). */
JNIEXPORT jint JNICALL Java_dev_bridge_master_Posix_notify(JNIEnv *env, jclass cls, jbyteArray path, jbyteArray message) {
    (void)cls;
    struct sockaddr_un un;
    int alen = jni_unix_address(env, path, &un);
    if (alen < 0) {
        return alen;
    }
    char text[4096];
    jsize m = (*env)->GetArrayLength(env, message);
    if (m < 0 || (size_t)m > sizeof text) {
        return -EMSGSIZE;
    }
    (*env)->GetByteArrayRegion(env, message, 0, m, (jbyte *)text);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -errno;
    }
    int rc = sendto(fd, text, (size_t)m, MSG_NOSIGNAL, (struct sockaddr *)&un, (socklen_t)alen) < 0 ? -errno : 0;
    close(fd);
    return rc;
}
