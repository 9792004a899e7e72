/* Copying a Java byte[] (a path, a name) into C for the master's JNI files (bridge_process_jni.c, identity_jni.c,
 * listen_fds_jni.c): bounds checked, as one C string or as a unix socket's address. */
#ifndef BRIDGE_JNI_BYTES_H
#define BRIDGE_JNI_BYTES_H

#include <errno.h>
#include <jni.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

/* bytes as a C string in buf (size bytes); 0, -ENAMETOOLONG (empty or too long) or -EINVAL (an embedded NUL). */
static inline int jni_c_string(JNIEnv *env, jbyteArray bytes, char *buf, size_t size) {
    jsize n = (*env)->GetArrayLength(env, bytes);
    if (n <= 0 || (size_t)n >= size) {
        return -ENAMETOOLONG;
    }
    (*env)->GetByteArrayRegion(env, bytes, 0, n, (jbyte *)buf);
    buf[n] = '\0';
    return memchr(buf, '\0', (size_t)n) != NULL ? -EINVAL : 0;
}

/* path as a unix socket address in *un ("@NAME": the abstract namespace); its length in bytes, or -ENAMETOOLONG. */
static inline int jni_unix_address(JNIEnv *env, jbyteArray path, struct sockaddr_un *un) {
    memset(un, 0, sizeof *un);
    un->sun_family = AF_UNIX;
    jsize n = (*env)->GetArrayLength(env, path);
    if (n <= 0 || (size_t)n >= sizeof un->sun_path) {
        return -ENAMETOOLONG;
    }
    (*env)->GetByteArrayRegion(env, path, 0, n, (jbyte *)un->sun_path);
    if (un->sun_path[0] == '@') {
        un->sun_path[0] = '\0';
    }
    return (int)(offsetof(struct sockaddr_un, sun_path) + (size_t)n);
}

#endif
