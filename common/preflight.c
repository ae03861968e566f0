/* preflight.c - start-up checks (see preflight.h). Every refusal is one
 * koop_error line: what is wrong, then after a colon what to do. */
#include "preflight.h"
#include "say.h"
#include "version.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* The name of the user this process runs as, for a command to copy. */
static const char *
s_me(void)
{
    struct passwd *pw = getpwuid(geteuid());
    return pw ? pw->pw_name : "UŻYTKOWNIK_WĘZŁA";
}

/* "koop (uid 998)" */
static const char *
s_user(uid_t uid, char *buf, size_t size)
{
    struct passwd *pw = getpwuid(uid);
    snprintf(buf, size, "%s (uid %u)", pw ? pw->pw_name : "?", (unsigned)uid);
    return buf;
}

static int
s_check_data_dir(const koop_config_t *cfg)
{
    const char *d = cfg->data_dir;
    struct stat st;
    char user[96];

    if (stat(d, &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            koop_error("katalog danych %s nie istnieje: popraw data_dir w sekcji [node] pliku %s albo utwórz "
                       "katalog (mkdir -m 0700 %s; `koopctl node init` i jednostka systemd tworzą go same); "
                       "jeśli dane są na osobnym dysku, sprawdź, czy jest zamontowany",
                       d, cfg->path, d);
        else
            koop_error("nie można sprawdzić katalogu danych %s (%s): popraw data_dir w pliku %s albo prawa "
                       "dostępu do katalogów nad nim", d, strerror(errno), cfg->path);
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        koop_error("data_dir %s (plik %s) nie jest katalogiem: wskaż katalog danych węzła", d, cfg->path);
        return -1;
    }
    if (access(d, W_OK | X_OK) != 0) {
        koop_error("węzeł działający jako %s nie może pisać w katalogu danych %s (%s; właściciel uid %u, "
                   "tryb %04o): nadaj katalog użytkownikowi węzła (chown -R %s %s) albo uruchom węzeł jako "
                   "jego właściciel",
                   s_user(geteuid(), user, sizeof user), d, strerror(errno), (unsigned)st.st_uid,
                   (unsigned)(st.st_mode & 07777), s_me(), d);
        return -1;
    }
    return 0;
}

int
koop_preflight_mkdirs(const char *path, unsigned mode)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(buf, (mode_t)mode) == 0 || errno == EEXIST ? 0 : -1;
}

static int
s_ensure_runtime_dir(const koop_config_t *cfg)
{
    struct stat st;
    if (stat(cfg->runtime_dir, &st) == 0 && S_ISDIR(st.st_mode))
        return 0;
    if (koop_preflight_mkdirs(cfg->runtime_dir, 0700) != 0 || stat(cfg->runtime_dir, &st) != 0 ||
        !S_ISDIR(st.st_mode)) {
        koop_error("nie można utworzyć katalogu gniazd %s (%s): popraw runtime_dir w sekcji [node] pliku %s "
                   "albo utwórz go dla użytkownika węzła (install -d -m 0700 KATALOG)",
                   cfg->runtime_dir, strerror(errno), cfg->path);
        return -1;
    }
    return 0;
}

/* A directory that only the node's user may enter: whoever can connect to a
 * socket in it may act as any person. */
static int
s_private_dir(const koop_config_t *cfg, const char *dir, const char *what)
{
    struct stat st;
    char user[96], owner[96];

    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        koop_error("%s %s nie istnieje (plik %s): utwórz go (install -d -m 0700 %s)", what, dir, cfg->path, dir);
        return -1;
    }
    if (st.st_uid != geteuid()) {
        koop_error("%s %s należy do %s, a węzeł działa jako %s: każdy z tych użytkowników mógłby działać w imieniu "
                   "dowolnej osoby; nadaj katalog użytkownikowi węzła (chown %s %s) albo uruchom węzeł jako "
                   "jego właściciel",
                   what, dir, s_user(st.st_uid, owner, sizeof owner), s_user(geteuid(), user, sizeof user),
                   s_me(), dir);
        return -1;
    }
    if (st.st_mode & 077) {
        koop_error("%s %s ma tryb %04o: inni użytkownicy serwera mogliby połączyć się z usługami i działać w "
                   "imieniu dowolnej osoby; popraw: chmod 0700 %s",
                   what, dir, (unsigned)(st.st_mode & 07777), dir);
        return -1;
    }
    return 0;
}

int
koop_preflight_tcp_is_loopback(const char *endpoint)
{
    char host[INET6_ADDRSTRLEN + 2];
    const char *h, *end;
    unsigned char addr[16];
    size_t len;

    if (strncmp(endpoint, "tcp://", 6) != 0)
        return 0;
    h = endpoint + 6;
    if (*h == '[') {
        end = strchr(h, ']');
        if (!end || end[1] != ':')
            return 0;
        h++;
    } else {
        end = strrchr(h, ':');
        if (!end)
            return 0;
    }
    len = (size_t)(end - h);
    if (len == 0 || len >= sizeof host)
        return 0;
    memcpy(host, h, len);
    host[len] = '\0';
    if (inet_pton(AF_INET, host, addr) == 1)
        return addr[0] == 127;
    if (inet_pton(AF_INET6, host, addr) == 1) {
        static const unsigned char loop6[16] = {[15] = 1};
        return memcmp(addr, loop6, 16) == 0;
    }
    return 0;
}

/* Where a person-taking service listens: loopback TCP, or an ipc socket in
 * a private directory. */
static int
s_check_endpoint(const koop_config_t *cfg, const char *name, const char *endpoint)
{
    char dir[PATH_MAX], *slash;

    if (strncmp(endpoint, "tcp://", 6) == 0) {
        if (koop_preflight_tcp_is_loopback(endpoint))
            return 0;
        koop_error("usługa %s przyjmuje osobę działającą, a ma słuchać na %s (plik %s): każdy w sieci mógłby "
                   "działać jako dowolna osoba; użyj ipc://%s/%s.sock albo tcp://127.0.0.1:PORT",
                   name, endpoint, cfg->path, cfg->runtime_dir, name);
        return -1;
    }
    if (strncmp(endpoint, "ipc://", 6) != 0 || endpoint[6] == '@' || endpoint[6] != '/') {
        koop_error("usługa %s przyjmuje osobę działającą, a adres %s (plik %s) nie jest gniazdem w katalogu "
                   "węzła: użyj ipc://%s/%s.sock",
                   name, endpoint, cfg->path, cfg->runtime_dir, name);
        return -1;
    }
    if (snprintf(dir, sizeof dir, "%s", endpoint + 6) >= (int)sizeof dir)
        return -1;
    slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else
        *slash = '\0';
    return s_private_dir(cfg, dir, "katalog gniazda usługi");
}

static int s_check_restore(const koop_config_t *cfg);

int
koop_preflight_node(const koop_config_t *cfg, int private_runtime)
{
    if (s_check_data_dir(cfg) != 0 || s_check_restore(cfg) != 0 || s_ensure_runtime_dir(cfg) != 0 ||
        (private_runtime && s_private_dir(cfg, cfg->runtime_dir, "katalog gniazd (runtime_dir)") != 0))
        return KOOP_EXIT_REFUSED;
    return 0;
}

int
koop_preflight_lock(const char *path, char *holder, size_t size)
{
    char pid[24] = "";
    int fd, len, err;

    snprintf(holder, size, "?");
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        ssize_t n;
        err = errno;
        n = read(fd, pid, sizeof pid - 1);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        if (*pid)
            snprintf(holder, size, "%s", pid);
        close(fd);
        errno = err;
        return -1;
    }
    len = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len)
        koop_warn("%s: nie można zapisać pid (%s)", path, strerror(errno));
    return fd;
}

/* Holds DIR/service.lock for the life of the process (the descriptor is
 * never closed: the kernel lets go when the process ends, even by kill -9). */
static int
s_lock(const koop_config_t *cfg, const char *name, const char *dir)
{
    char path[PATH_MAX + 128], pid[24];

    snprintf(path, sizeof path, "%s/service.lock", dir);
    if (koop_preflight_lock(path, pid, sizeof pid) >= 0)
        return 0;
    if (errno == EWOULDBLOCK)
        koop_error("usługa %s węzła %s już działa (pid %s trzyma %s): nie uruchamiaj jej drugi raz obok węzła; "
                   "zatrzymaj ją albo cały węzeł (koopctl -c %s status pokaże, co działa)",
                   name, cfg->node_id, pid, path, cfg->path);
    else
        koop_error("nie można otworzyć %s (%s): nadaj katalog danych użytkownikowi węzła", path, strerror(errno));
    return -1;
}

/* A restore left unfinished: its data are half put back. */
static int
s_check_restore(const koop_config_t *cfg)
{
    char path[PATH_MAX + 32], from[PATH_MAX] = "KATALOG_KOPII";
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", cfg->data_dir, KOOP_RESTORE_DIR);
    if (access(path, F_OK) != 0)
        return 0;
    snprintf(path, sizeof path, "%s/%s/source", cfg->data_dir, KOOP_RESTORE_DIR);
    if ((f = fopen(path, "r"))) {
        if (!fgets(from, sizeof from, f))
            snprintf(from, sizeof from, "KATALOG_KOPII");
        from[strcspn(from, "\n")] = '\0';
        fclose(f);
    }
    koop_error("odtwarzanie danych z kopii w %s nie zostało dokończone (jest %s/%s): powtórz je, zanim węzeł "
               "wystartuje: koopctl -c %s restore %s",
               cfg->data_dir, cfg->data_dir, KOOP_RESTORE_DIR, cfg->path, from);
    return -1;
}

static int
s_check_stamp(const koop_config_t *cfg, koop_store_t *store, const char *dir)
{
    char node[128];
    unsigned format = 0;
    int rc = koop_store_stamp(store, cfg->node_id, node, sizeof node, &format);

    if (rc != 0) {
        koop_error("nie można odczytać znacznika danych w %s (%s): przywróć katalog z kopii zapasowej",
                   dir, koop_strerror(rc));
        return -1;
    }
    if (strcmp(node, cfg->node_id) != 0) {
        koop_error("dane w %s należą do węzła %s, a plik %s podaje id = %s: przywróć id = %s w sekcji [node] "
                   "albo wskaż data_dir z danymi węzła %s (id węzła nie zmienia się po pierwszym starcie)",
                   dir, node, cfg->path, cfg->node_id, node, cfg->node_id);
        return -1;
    }
    if (format > KOOP_STORE_FORMAT) {
        koop_error("dane w %s mają format %u, a koop %s zna format najwyżej %u: zainstaluj wersję koop, która "
                   "je zapisała (albo nowszą)", dir, format, koop_version(), KOOP_STORE_FORMAT);
        return -1;
    }
    if (format < KOOP_STORE_FORMAT) {
        koop_error("dane w %s mają dawny format %u, a koop %s wymaga formatu %u i nie umie ich przenieść: "
                   "uruchom najpierw wersję koop, która przenosi dane do formatu %u",
                   dir, format, koop_version(), KOOP_STORE_FORMAT, KOOP_STORE_FORMAT);
        return -1;
    }
    return 0;
}

int
koop_preflight_service(const koop_config_t *cfg, const char *name, const char *endpoint, int takes_person,
                       const char *const *tables, koop_store_t **store)
{
    char dir[PATH_MAX + 64], user[96];
    int rc;

    *store = NULL;
    if ((rc = koop_preflight_node(cfg, takes_person)) != 0)
        return rc;
    if (takes_person && s_check_endpoint(cfg, name, endpoint) != 0)
        return KOOP_EXIT_REFUSED;
    snprintf(dir, sizeof dir, "%s/%s", cfg->data_dir, name);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        koop_error("nie można utworzyć katalogu %s (%s): nadaj katalog danych użytkownikowi węzła", dir,
                   strerror(errno));
        return KOOP_EXIT_REFUSED;
    }
    if (s_lock(cfg, name, dir) != 0)
        return KOOP_EXIT_REFUSED;
    rc = koop_store_open(store, dir, tables);
    if (rc == EACCES || rc == EPERM || rc == EROFS) {
        koop_error("węzeł działający jako %s nie może otworzyć danych %s (%s): pliki mają innego właściciela "
                   "(czy węzeł uruchomiono kiedyś jako root?); nadaj je użytkownikowi węzła: chown -R %s %s",
                   s_user(geteuid(), user, sizeof user), dir, koop_strerror(rc), s_me(), cfg->data_dir);
        return KOOP_EXIT_REFUSED;
    }
    if (rc != 0) {
        /* not a refusal: koop-node tries again, and gives up if it keeps failing the same way */
        koop_error("nie można otworzyć danych %s: %s", dir, koop_strerror(rc));
        return 1;
    }
    if (s_check_stamp(cfg, *store, dir) != 0) {
        koop_store_destroy(store);
        return KOOP_EXIT_REFUSED;
    }
    return 0;
}
