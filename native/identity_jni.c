/* The JNI side of dev.bridge.master.Posix for --uid, --gid and --chown-socket: looking up users and groups
 * (NSS, so LDAP users too), changing the owner of a socket file, and giving up root for good. Called from the
 * master's main thread before it spawns anything; glibc applies setgroups/setgid/setuid to every thread of
 * the process (the JVM has many). Returns 0 or -errno unless said otherwise; no Java exception but
 * OutOfMemoryError. */
#include <errno.h>
#include <grp.h>
#include <jni.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jni_bytes.h"

/* The passwd entry of name (or of uid when name is null) as "uid gid name home"; null when there is none. */
JNIEXPORT jstring JNICALL Java_dev_bridge_master_Posix_passwd(JNIEnv *env, jclass cls, jbyteArray name, jint uid) {
    (void)cls;
    char key[256];
    char buf[16384];
    struct passwd pw;
    struct passwd *found = NULL;
    if (name != NULL) {
        if (jni_c_string(env, name, key, sizeof key) != 0) {
            return NULL;
        }
        getpwnam_r(key, &pw, buf, sizeof buf, &found);
    } else {
        getpwuid_r((uid_t)uid, &pw, buf, sizeof buf, &found);
    }
    if (found == NULL) {
        return NULL;
    }
    char out[4400];
    snprintf(out, sizeof out, "%u %u %s %s", (unsigned)pw.pw_uid, (unsigned)pw.pw_gid, pw.pw_name,
             pw.pw_dir != NULL && pw.pw_dir[0] != '\0' ? pw.pw_dir : "/");
    return (*env)->NewStringUTF(env, out);
}

/* The id of group name, or -1 when there is none. */
JNIEXPORT jint JNICALL Java_dev_bridge_master_Posix_groupId(JNIEnv *env, jclass cls, jbyteArray name) {
    (void)cls;
    char key[256];
    char buf[65536];
    struct group gr;
    struct group *found = NULL;
    if (jni_c_string(env, name, key, sizeof key) != 0) {
        return -1;
    }
    getgrnam_r(key, &gr, buf, sizeof buf, &found);
    return found == NULL ? -1 : (jint)gr.gr_gid;
}

/* chown(2) of path (no symlink followed: a socket file the master made). */
JNIEXPORT jint JNICALL Java_dev_bridge_master_Posix_chown(JNIEnv *env, jclass cls, jbyteArray path, jint uid, jint gid) {
    (void)cls;
    char name[4096];
    int rc = jni_c_string(env, path, name, sizeof name);
    if (rc != 0) {
        return rc;
    }
    return lchown(name, (uid_t)uid, (gid_t)gid) == 0 ? 0 : -errno;
}

/* Becomes uid and gid for good: supplementary groups from user's entry (initgroups; just gid when user is
 * null), then the group, then the user; then checks root cannot be had back. */
JNIEXPORT jint JNICALL Java_dev_bridge_master_Posix_dropPrivileges(JNIEnv *env, jclass cls, jbyteArray user,
                                                                    jint uid, jint gid) {
    (void)cls;
    char name[256];
    if (user != NULL) {
        int rc = jni_c_string(env, user, name, sizeof name);
        if (rc != 0) {
            return rc;
        }
        if (initgroups(name, (gid_t)gid) != 0) {
            return -errno;
        }
    } else {
        gid_t only = (gid_t)gid;
        if (setgroups(1, &only) != 0) {
            return -errno;
        }
    }
    if (setgid((gid_t)gid) != 0 || setuid((uid_t)uid) != 0) {
        return -errno;
    }
    if (getuid() != (uid_t)uid || geteuid() != (uid_t)uid || getgid() != (gid_t)gid || getegid() != (gid_t)gid) {
        return -EPERM;
    }
    if (uid != 0 && setuid(0) == 0) { /* must not work */
        return -EPERM;
    }
    return 0;
}
