/* enrol.c - writing one enrolled certificate (see enrol.h). */
#include "enrol.h"

#include <czmq.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

int
koop_enrol_write(const char *hub_dir, const uint8_t pub[32], const char *node, const char *role, char *path,
                 size_t path_size)
{
    static const uint8_t zero[32];
    char dir[PATH_MAX], file[PATH_MAX + 80], tmp[PATH_MAX + 96], hex[65];
    struct timeval tv;
    zcert_t *cert;
    int rc = 0;

    if (snprintf(dir, sizeof dir, "%s/keys", hub_dir) >= (int)sizeof dir - 10)
        return -ENAMETOOLONG;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return -errno;
    strcat(dir, "/enrolled");
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return -errno;
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", pub[i]);
    snprintf(file, sizeof file, "%s/%s.pub", dir, hex);
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, hex);
    /* only the public key goes to the hub, with who it is and when it was enrolled */
    cert = zcert_new_from(pub, zero);
    if (!cert)
        return -ENOMEM;
    if (node)
        zcert_set_meta(cert, "node-id", "%s", node);
    if (role)
        zcert_set_meta(cert, "role", "%s", role);
    gettimeofday(&tv, NULL);
    zcert_set_meta(cert, "enrolled-at", "%llu",
                   (unsigned long long)tv.tv_sec * 1000ull + (unsigned long long)tv.tv_usec / 1000ull);
    if (zcert_save_public(cert, tmp) != 0 || rename(tmp, file) != 0) {
        rc = errno ? -errno : -EIO;
        (void)unlink(tmp);
    }
    zcert_destroy(&cert);
    if (rc == 0 && path)
        snprintf(path, path_size, "%s", file);
    return rc;
}
