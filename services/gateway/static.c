/*
 * static.c - the web UI's files (web/: HTML, CSS, JS, the language
 * catalogues), served from [gateway] web_dir.
 *
 * Which paths name a file is decided by gw_static_path (route.c, bytes
 * only): no "..", no hidden names, no directories (so no listing), known
 * extensions only, each with its Content-Type. A file is opened without
 * following a symbolic link in its last component and must be a regular
 * file of at most GW_STATIC_FILE_MAX bytes. Answers carry the security
 * headers of every answer (the CSP forbids inline script and style, which
 * web/ has none of), an ETag of size and modification time and
 * `Cache-Control: no-cache`: browsers keep the files and ask again with
 * If-None-Match, getting 304 until the package is upgraded, so an old
 * office PC on a slow link loads a page once and never runs a stale script.
 *
 * When web_dir is not set it is found next to the program: PREFIX/bin ->
 * PREFIX/share/koop/web (make install, the Debian package), else
 * ../web of bin/ (the source tree).
 */
#include "gateway.h"
#include "say.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int
s_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

void
gw_static_find_dir(gw_t *gw)
{
    static const char *const s_beside[] = {"../share/koop/web", "../web"};
    char exe[PATH_MAX], cand[PATH_MAX + 32];
    ssize_t n;
    char *slash;
    if (gw->cfg->gw_web_dir[0]) {
        snprintf(gw->lim.web_dir, sizeof gw->lim.web_dir, "%s", gw->cfg->gw_web_dir);
        if (!s_is_dir(gw->lim.web_dir))
            koop_warn("[gateway] web_dir %s nie jest katalogiem: strony WWW nie będą dostępne (API działa)",
                      gw->lim.web_dir);
        return;
    }
    gw->lim.web_dir[0] = '\0';
    n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        if ((slash = strrchr(exe, '/')) != NULL)
            *slash = '\0';
        for (size_t i = 0; i < KOOP_ARRAY_LEN(s_beside); i++) {
            snprintf(cand, sizeof cand, "%s/%s", exe, s_beside[i]);
            if (s_is_dir(cand) && realpath(cand, gw->lim.web_dir))
                break;
            gw->lim.web_dir[0] = '\0';
        }
    }
    if (gw->lim.web_dir[0])
        koop_info("strony WWW z %s", gw->lim.web_dir);
    else
        koop_warn("nie znaleziono katalogu stron WWW (ustaw [gateway] web_dir): dostępne jest tylko API");
}

/* The whole file into r->resp; 0, or -1 (not found, not a file, too big). */
static int
s_read(gw_req_t *r, const char *path)
{
    struct stat st;
    size_t got = 0;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > GW_STATIC_FILE_MAX)
        goto fail;
    snprintf(r->etag, sizeof r->etag, "\"%llx-%llx\"", (unsigned long long)st.st_size,
             (unsigned long long)st.st_mtim.tv_sec * 1000000000ull + (unsigned long long)st.st_mtim.tv_nsec);
    {
        const char *inm = gw_req_header(r, "If-None-Match");
        if (inm && strcmp(inm, r->etag) == 0) {
            close(fd);
            free(r->resp);
            r->resp = NULL;
            r->resp_len = 0;
            r->status = 304;
            return 0;
        }
    }
    free(r->resp);
    r->resp = malloc((size_t)st.st_size + 1);
    if (!r->resp)
        goto fail;
    while (got < (size_t)st.st_size) {
        ssize_t k = read(fd, r->resp + got, (size_t)st.st_size - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            goto fail;
        got += (size_t)k;
    }
    close(fd);
    r->resp_len = got;
    r->status = 200;
    return 0;
fail:
    close(fd);
    free(r->resp);
    r->resp = NULL;
    r->resp_len = 0;
    r->etag[0] = '\0';
    return -1;
}

void
gw_static_serve(gw_req_t *r)
{
    char rel[GW_STATIC_NAME_MAX + 16], path[sizeof r->gw->lim.web_dir + sizeof rel + 2];
    if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
        snprintf(r->allow, sizeof r->allow, "GET, HEAD");
        gw_fail(r, HTTP_METHOD, NULL, r->method, r->path, r->allow);
        return;
    }
    if (!r->gw->lim.web_dir[0] || gw_static_path(r->path, rel, sizeof rel) != 0) {
        gw_fail(r, HTTP_NOT_FOUND, NULL, r->path);
        return;
    }
    snprintf(path, sizeof path, "%s/%s", r->gw->lim.web_dir, rel);
    if (s_read(r, path) != 0) {
        gw_fail(r, HTTP_NOT_FOUND, NULL, r->path);
        return;
    }
    r->content_type = gw_static_type(rel);
    r->cache_control = "no-cache";
}
