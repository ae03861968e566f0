/*
 * preflight - the start-up checks of koop-node and of every service: refuse
 * to start, with one Polish message that names the fix, rather than start
 * wrong or crash-loop.
 *
 * koop-node, before it starts anything (koop_preflight_node), and each
 * service again (it may be started alone):
 *   - data_dir exists and this user may write in it. It is never created
 *     here: `koopctl node init` or systemd's StateDirectory= makes it, and a
 *     missing one is a wrong path or an unmounted disk, where a new empty
 *     node must not start;
 *   - runtime_dir exists (made 0700 when missing: it holds only sockets and
 *     locks, gone after a reboot when it lives in /run).
 * The local trust boundary (docs/FOUNDATION.md), checked by koop-node and by
 * every service that takes a person as caller (koop_service_def_t's
 * takes_person), since a caller names the person it acts for and nothing
 * else proves it:
 *   - runtime_dir, and the directory of an ipc:// endpoint, are mode 0700 and
 *     owned by the user the node runs as; abstract ipc://@ sockets are
 *     refused (they have no permissions at all);
 *   - a tcp:// endpoint is loopback (127.0.0.0/8 or [::1]).
 * Then the service's own checks (koop_preflight_service):
 *   - it holds DATA_DIR/<name>/service.lock (flock), so a second copy of the
 *     service, started by hand beside its running node, leaves at once
 *     instead of taking over the socket;
 *   - it opens its store and compares the stamp (koop_store_stamp) with the
 *     configured node id and KOOP_STORE_FORMAT.
 *
 * Each function returns 0, or the code the program must exit with after the
 * message was logged: KOOP_EXIT_REFUSED for a refusal, on which koop-node
 * stops the whole node (and exits with the same code) and the systemd unit
 * does not restart (RestartPreventExitStatus=); 1 for a store that fails to
 * open for another reason (koop-node retries, and gives up when it keeps
 * failing the same way).
 */
#ifndef KOOP_PREFLIGHT_H
#define KOOP_PREFLIGHT_H

#include "config.h"
#include "store.h"

/* EX_CONFIG of sysexits.h: fix the configuration or the files, then start again. */
#define KOOP_EXIT_REFUSED 78

/* The node-wide checks (data_dir, runtime_dir; with private_runtime also the
 * mode and owner of runtime_dir). Returns 0 or KOOP_EXIT_REFUSED. */
int koop_preflight_node(const koop_config_t *cfg, int private_runtime);

/* Every check of one service, ending with its store open in *store (the
 * caller destroys it): node checks, the endpoint (takes_person), the lock
 * (held until the process ends), the store and its stamp. Returns 0 or an
 * exit code (*store is then NULL). */
int koop_preflight_service(const koop_config_t *cfg, const char *name, const char *endpoint,
                           int takes_person, const char *const *tables, koop_store_t **store);

/* Takes the lock file path (created 0600, flock) and writes this process's
 * pid in it. Returns its descriptor, held until it is closed or the process
 * ends (even by kill -9), or -1: errno EWOULDBLOCK when another process
 * holds it (holder: the pid it wrote, "?" when none), another errno when the
 * file cannot be opened. koop-node (RUNTIME/node.lock), every service
 * (DATA/<name>/service.lock) and koopctl restore (all of them) use it. */
int koop_preflight_lock(const char *path, char *holder, size_t size);

/* 1 while DATA_DIR holds a restore that did not finish (koopctl restore
 * works in DATA_DIR/KOOP_RESTORE_DIR): no service may start then. */
#define KOOP_RESTORE_DIR ".restore"

/* mkdir -p: the missing parents of path 0755, path itself with mode.
 * Returns 0 (also when it exists) or -1 with errno. */
int koop_preflight_mkdirs(const char *path, unsigned mode);

/* 1 when a tcp:// endpoint's host is a loopback address (127.0.0.0/8, [::1]);
 * 0 for any other host, a name, "*" or an interface. */
int koop_preflight_tcp_is_loopback(const char *endpoint);

#endif
