/*
 * A family moving to another gmina, on real nodes: the household and its
 * open IPW leave one gmina sealed to the other's key, cross the hubs as
 * ciphertext, and are accepted (or declined) there. Checked: the receiver
 * has every field, the sender's copy is read-only, the hubs' counts are
 * exact (the family counted once, where it is now), no hub file and no
 * hub's LMDB environment holds anything personal of the household; under
 * one powiat hub and through two powiat hubs under a voivodeship hub.
 */
#include "kt_cases.h"
#include "kt_link.h"
#include "kt_lmdb.h"
#include "kt_report.h"
#include "kt_sync.h"
#include "cert.h"
#include "envelope.pb-c.h"

#include <czmq.h>

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- nodes ---- */

typedef struct {
    kt_node_t *n;
    char *gops, *kpp, *sw, *cop, *coord;
} s_gmina;

/* koopctl -c n --json [--as AS] ARGS into r. */
static void
s_run_v(kt_run_t *r, kt_node_t *n, const char *as, va_list ap)
{
    char exe[PATH_MAX + 16], *argv[48];
    const char *a;
    int k = 0;
    snprintf(exe, sizeof exe, "%s/koopctl", kt_bin());
    argv[k++] = exe;
    argv[k++] = "-c";
    argv[k++] = n->conf;
    argv[k++] = "--json";
    if (as) {
        argv[k++] = "--as";
        argv[k++] = (char *)as;
    }
    while ((a = va_arg(ap, const char *)) != NULL && k < 46)
        argv[k++] = (char *)a;
    argv[k] = NULL;
    kt_exec(r, argv);
}

static void
s_run(kt_run_t *r, kt_node_t *n, const char *as, ...)
{
    va_list ap;
    va_start(ap, as);
    s_run_v(r, n, as, ap);
    va_end(ap);
}

/* The same, which must succeed: the id of what it made (caller frees). */
static char *
s_id(kt_node_t *n, const char *as, ...)
{
    va_list ap;
    kt_run_t r;
    char *id = NULL;
    va_start(ap, as);
    s_run_v(&r, n, as, ap);
    va_end(ap);
    if (r.code == 0 && json_is_string(json_object_get(r.json, "id")))
        id = strdup(json_string_value(json_object_get(r.json, "id")));
    cr_assert_not_null(id, "%s: %s", r.cmd, r.err);
    kt_run_free(&r);
    return id;
}

static void
s_staff(s_gmina *s, kt_node_t *n, const char *name)
{
    char gops[80];
    s->n = n;
    snprintf(gops, sizeof gops, "GOPS %s", name);
    s->gops = s_id(n, NULL, "institution", "add", "--name", gops, "--sector", "social_assistance", "--level", "gmina",
                   NULL);
    s->kpp = s_id(n, NULL, "institution", "add", "--name", "KPP", "--sector", "police", "--level", "powiat", NULL);
    s->sw = s_id(n, NULL, "person", "add", "--name", "Pracownik", "--institution", s->gops, "--role", "social_worker",
                 NULL);
    s->cop = s_id(n, NULL, "person", "add", "--name", "Dzielnicowy", "--institution", s->kpp, "--role",
                  "police_officer", NULL);
    s->coord = s_id(n, NULL, "person", "add", "--name", "Koordynator", "--institution", s->gops, "--role",
                    "coordinator", NULL);
}

static void
s_staff_free(s_gmina *s)
{
    free(s->gops), free(s->kpp), free(s->sw), free(s->cop), free(s->coord);
}

/* A household with an open, active IPW; returns the household (and *ipw). */
static char *
s_family(s_gmina *s, const char *name, char **ipw)
{
    char share[80];
    char *hh = s_id(s->n, s->sw, "household", "add", "--name", name, "--size", "2", "--date", "2026-01-05", NULL);
    snprintf(share, sizeof share, "%s,%s", s->gops, s->kpp);
    free(s_id(s->n, s->sw, "consent", "record", "--household", hh, "--purpose", "Zgoda", "--share-with", share,
              "--date", "2026-01-05", NULL));
    *ipw = s_id(s->n, s->sw, "ipw", "open", "--household", hh, "--coordinator", s->sw, "--opened", "2026-01-10", NULL);
    free(s_id(s->n, s->sw, "ipw", "activate", "--ipw", *ipw, "--date", "2026-01-15", NULL));
    return hh;
}

/* The personal data of the family that moves: none of it may be at a hub. */
static const char *const s_pii[] = {
    "Genowefa Przeprowadzka", "79030245666", "ul. Stara 3", "600300400", "Kazimierz Przeprowadzka",
    "Rozmowa o przeprowadzce", "Szukanie pracy w nowym miejscu", "Zgoda na przekazanie", "pasierb",
};

/* The family of s_pii, with everything a case holds; returns the household. */
static char *
s_rich_family(s_gmina *s, char **ipw)
{
    kt_run_t r;
    char share[80], parts[80];
    char *hh = s_id(s->n, s->sw, "household", "add", "--name", s_pii[0], "--pesel", s_pii[1], "--address", s_pii[2],
                    "--phone", s_pii[3], "--size", "2", "--date", "2026-01-05", NULL);
    s_run(&r, s->n, s->sw, "household", "member", "add", "--household", hh, "--name", s_pii[4], "--relation", s_pii[8],
          "--birth", "2010-05-05", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    kt_run_free(&r);
    snprintf(share, sizeof share, "%s,%s", s->gops, s->kpp);
    free(s_id(s->n, s->sw, "consent", "record", "--household", hh, "--purpose", s_pii[7], "--share-with", share,
              "--date", "2026-01-05", NULL));
    *ipw = s_id(s->n, s->sw, "ipw", "open", "--household", hh, "--coordinator", s->sw, "--opened", "2026-01-10", NULL);
    s_run(&r, s->n, s->sw, "ipw", "member", "add", "--ipw", *ipw, "--person", s->cop, NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    kt_run_free(&r);
    free(s_id(s->n, s->sw, "ipw", "activate", "--ipw", *ipw, "--date", "2026-01-15", NULL));
    char *goal = s_id(s->n, s->sw, "goal", "add", "--ipw", *ipw, "--area", "work", "--baseline", "2", "--target", "7",
                      "--description", s_pii[6], "--date", "2026-01-16", NULL);
    free(s_id(s->n, s->sw, "goal", "scale", "--goal", goal, "--value", "4", "--date", "2026-03-01", NULL));
    free(s_id(s->n, s->sw, "task", "add", "--ipw", *ipw, "--goal", goal, "--owner", s->cop, "--due", "2026-12-20",
              "--title", "Wizyta w nowym mieszkaniu", NULL));
    snprintf(parts, sizeof parts, "%s,%s", s->sw, s->cop);
    free(s_id(s->n, s->sw, "meeting", "add", "--ipw", *ipw, "--date", "2026-02-01", "--participants", parts, "--topic",
              s_pii[5], NULL));
    free(goal);
    return hh;
}

/* Waits until the receiver lists the transfer; returns its id. */
static char *
s_wait_transfer(s_gmina *to, int want_state_pending)
{
    kt_run_t r;
    char *id = NULL;
    for (int i = 0; i < 300 && !id; i++) {
        s_run(&r, to->n, to->coord, "transfer", "list", "--state", want_state_pending ? "pending" : "accepted", NULL);
        if (r.code == 0 && json_array_size(r.json) > 0)
            id = strdup(json_string_value(json_object_get(json_array_get(r.json, 0), "id")));
        kt_run_free(&r);
        if (!id)
            kt_sleep_ms(100);
    }
    cr_assert_not_null(id, "the transfer did not reach the receiving gmina");
    return id;
}

/* Waits until the sender's transfer has `state`. */
static void
s_wait_answer(s_gmina *from, const char *state)
{
    kt_run_t r;
    int ok = 0;
    for (int i = 0; i < 300 && !ok; i++) {
        s_run(&r, from->n, from->coord, "transfer", "list", "--state", state, NULL);
        ok = r.code == 0 && json_array_size(r.json) > 0;
        kt_run_free(&r);
        if (!ok)
            kt_sleep_ms(100);
    }
    cr_assert(ok, "the sender never saw the answer (%s)", state);
}

/* Transfers household to `to`, waiting until the sender knows its key
 * (the hub passes the directory down). Returns the sender's transfer. */
static json_t *
s_transfer(s_gmina *from, s_gmina *to, const char *hh, const char *fingerprint)
{
    kt_run_t r;
    char node[64], conf_dir[PATH_MAX];
    json_t *t = NULL;
    snprintf(conf_dir, sizeof conf_dir, "%s", to->n->dir);
    s_run(&r, to->n, NULL, "keys", "fingerprint", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    snprintf(node, sizeof node, "%s", json_string_value(json_object_get(r.json, "node")));
    kt_run_free(&r);
    for (int i = 0; i < 100 && !t; i++) {
        s_run(&r, from->n, from->sw, "household", "transfer", "--household", hh, "--to", node,
              fingerprint ? "--fingerprint" : NULL, fingerprint, NULL);
        if (r.code == 0)
            t = json_incref(r.json);
        else if (!kt_error_is(&r, "transfer.no_key"))
            cr_assert_fail("household transfer: %s", r.err);
        kt_run_free(&r);
        if (!t)
            kt_sleep_ms(300);
    }
    cr_assert_not_null(t, "the receiver's key never came down");
    return t;
}

/* n's transfer.key answer for node (one request, no wait), or NULL: the
 * directory there does not hold node's key (or koop-sync did not answer). */
static Koop__Sync__KeyReply *
s_key_once(kt_node_t *n, const char *node)
{
    Koop__Sync__KeyQuery q = KOOP__SYNC__KEY_QUERY__INIT;
    uint8_t *payload = NULL;
    size_t len = 0;
    Koop__Sync__KeyReply *k = NULL;
    q.node = (char *)node;
    if (kt_request(n, "sync", NULL, "transfer.key", &q.base, 1000, &payload, &len) == 0)
        k = koop__sync__key_reply__unpack(NULL, len, payload);
    free(payload);
    return k;
}

/* What the directory at gmina n says node calls itself ("" none), once the
 * directory has node's key (waits for it). */
static void
s_dir_name(kt_node_t *n, const char *node, char out[256])
{
    for (int i = 0; i < 100; i++) {
        Koop__Sync__KeyReply *k = s_key_once(n, node);
        if (k) {
            snprintf(out, 256, "%s", k->name ? k->name : "");
            koop__sync__key_reply__free_unpacked(k, NULL);
            return;
        }
        kt_sleep_ms(100);
    }
    cr_assert_fail("%s never had the key of %s", n->dir, node);
}

/* Waits until the directories of gminas x and y (node ids xn, yn) name
 * each other: the names come through the hubs a little after the keys. */
static void
s_names_known(kt_node_t *x, const char *xn, const char *x_name, kt_node_t *y, const char *yn, const char *y_name)
{
    char got_x[256] = "", got_y[256] = "";
    for (int i = 0; i < 100 && (strcmp(got_x, x_name) != 0 || strcmp(got_y, y_name) != 0); i++) {
        s_dir_name(y, xn, got_x);
        s_dir_name(x, yn, got_y);
        if (strcmp(got_x, x_name) != 0 || strcmp(got_y, y_name) != 0)
            kt_sleep_ms(100);
    }
    cr_assert_str_eq(got_x, x_name, "%s never named %s", y->dir, xn);
    cr_assert_str_eq(got_y, y_name, "%s never named %s", x->dir, yn);
}

/* The receiver's coordinator sees its pending transfer with both gminas
 * named, in JSON and in text (where the names stand for the ids). */
static void
s_names_at_receiver(s_gmina *to, const char *from_name, const char *to_name)
{
    kt_run_t r;
    json_t *t;
    s_run(&r, to->n, to->coord, "transfer", "list", "--state", "pending", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    t = json_array_get(r.json, 0);
    cr_assert_str_eq(kt_str(t, "from_node_name"), from_name, "%s", r.out);
    cr_assert_str_eq(kt_str(t, "to_node_name"), to_name, "%s", r.out);
    kt_run_free(&r);
    kt_ctl(&r, to->n, "--as", to->coord, "transfer", "list", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert(strstr(r.out, from_name) && strstr(r.out, to_name), "the text names both gminas:\n%s", r.out);
    kt_run_free(&r);
}

/* The fingerprint of a node's key, as the node's operator reads it. */
static void
s_fingerprint(kt_node_t *n, char out[40])
{
    kt_run_t r;
    s_run(&r, n, NULL, "keys", "fingerprint", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    snprintf(out, 40, "%s", json_string_value(json_object_get(r.json, "fingerprint")));
    kt_run_free(&r);
}

/* Nothing personal in any file or LMDB environment under dir. */
static void
s_no_pii_at(kt_node_t *hub)
{
    for (size_t i = 0; i < sizeof s_pii / sizeof s_pii[0]; i++) {
        int envs = 0;
        cr_assert_eq(kt_dir_contains(hub->dir, s_pii[i]), 0, "'%s' in a file of %s", s_pii[i], hub->dir);
        cr_assert_eq(kt_lmdb_contains(hub->dir, s_pii[i], &envs), 0, "'%s' in an LMDB environment of %s", s_pii[i],
                     hub->dir);
        cr_assert_gt(envs, 0, "no LMDB environment dumped under %s", hub->dir);
    }
}

/* The household's own copy (household export, GDPR art. 15) at s holds
 * transfer tid in `state` (incoming or not) without its sealed bytes, and
 * its document says every string of doc (NULL-terminated) and none of
 * avoid (may be NULL). */
static void
s_exported(s_gmina *s, const char *hh, const char *tid, const char *state, int incoming, const char *const *doc,
           const char *avoid)
{
    kt_run_t r;
    json_t *t = NULL, *e;
    size_t i;
    s_run(&r, s->n, s->coord, "household", "export", "--household", hh, NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    json_array_foreach(json_object_get(r.json, "transfers"), i, e) if (!strcmp(kt_str(e, "id"), tid)) t = e;
    cr_assert_not_null(t, "the copy lacks transfer %s: %s", tid, r.out);
    cr_assert_str_eq(kt_str(t, "state"), state);
    cr_assert_eq(json_is_true(json_object_get(t, "incoming")), incoming, "%s", r.out);
    cr_assert_str_eq(kt_str(t, "household"), hh);
    cr_assert_null(json_object_get(t, "sealed"), "the sealed bytes are never shown");
    cr_assert(!avoid || !strstr(r.out, avoid), "%s", r.out);
    kt_run_free(&r);
    kt_ctl(&r, s->n, "--as", s->coord, "household", "export", "--household", hh, NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "5. PRZEKAZANIA SPRAWY DO INNEJ GMINY") && strstr(r.out, tid), "%s", r.out);
    for (i = 0; doc[i]; i++)
        cr_assert(strstr(r.out, doc[i]), "the document lacks '%s':\n%s", doc[i], r.out);
    cr_assert(!avoid || !strstr(r.out, avoid), "%s", r.out);
    kt_run_free(&r);
}

/* An indicator of unit at node (NULL unit: the node itself), waiting until
 * it is `want` (the hub's reporting follows the sync in its own time). */
static void
s_wait_figure(kt_node_t *n, const char *unit, const char *key, double want)
{
    double got = -99;
    kt_run_t r;
    for (int i = 0; i < 300; i++) {
        if (unit)
            s_run(&r, n, NULL, "report", "indicators", "--unit", unit, "--from", "2026-01", "--to", "2026-12", NULL);
        else
            s_run(&r, n, NULL, "report", "indicators", "--from", "2026-01", "--to", "2026-12", NULL);
        got = r.code == 0 ? kt_report_figure(r.json, key, NULL) : -99;
        kt_run_free(&r);
        if (got > want - 1e-9 && got < want + 1e-9)
            return;
        kt_sleep_ms(100);
    }
    cr_assert_fail("%s at %s (unit %s): %g, want %g", key, n->dir, unit ? unit : "own", got, want);
}

/* ---- one powiat hub, two gminas ---- */

static kt_node_t hub, g1, g2;
static s_gmina a, b;
static int port;

/* A powiat hub (on a new *p) with its two gminas x and y, all started. */
static void
s_powiat(kt_node_t *h, kt_node_t *x, kt_node_t *y, int *p)
{
    *p = 0;
    cr_assert_eq(kt_hub_init(h, "2013", "Powiat", p), 0);
    cr_assert_eq(kt_gmina_init(x, "2013032", "Kobylin-Borzymy", *p, h), 0);
    cr_assert_eq(kt_gmina_init(y, "2013072", "Wysokie Mazowieckie", *p, h), 0);
    cr_assert_eq(kt_enrol(h, x), 0);
    cr_assert_eq(kt_enrol(h, y), 0);
    cr_assert_eq(kt_node_start(h, 30), 0);
    cr_assert_eq(kt_node_start(x, 30), 0);
    cr_assert_eq(kt_node_start(y, 30), 0);
}

/* Destroys them; the sanitizer reports in their logs. */
static int
s_powiat_destroy(kt_node_t *h, kt_node_t *x, kt_node_t *y)
{
    return kt_node_destroy(x) + kt_node_destroy(y) + kt_node_destroy(h);
}

static void
s_setup(void)
{
    s_powiat(&hub, &g1, &g2, &port);
    s_staff(&a, &g1, "Kobylin");
    s_staff(&b, &g2, "Wysokie");
}

static void
s_teardown(void)
{
    int reports = s_powiat_destroy(&hub, &g1, &g2);
    s_staff_free(&a);
    s_staff_free(&b);
    cr_assert_eq(reports, 0, "sanitizer reports in the nodes' logs");
}

TestSuite(transfer, .init = s_setup, .fini = s_teardown, .timeout = 120);

Test(transfer, a_family_moves_with_every_field_and_is_counted_once)
{
    kt_run_t r;
    char *ipw, *hh = s_rich_family(&a, &ipw), *x, *xi, fp[40];
    /* three more families on each side: counts above a gmina are shown from 3 */
    for (int i = 0; i < 3; i++) {
        x = s_family(&a, "Rodzina A", &xi);
        free(x), free(xi);
        x = s_family(&b, "Rodzina B", &xi);
        free(x), free(xi);
    }
    s_wait_figure(&hub, NULL, "ipw_opened", 7);
    s_wait_figure(&hub, "gmina-2013032", "ipw_opened", 4);

    s_fingerprint(&g2, fp);
    s_names_known(&g1, "gmina-2013032", "Kobylin-Borzymy", &g2, "gmina-2013072", "Wysokie Mazowieckie");
    /* a fingerprint that is not the receiver's: nothing sent, nothing locked
     * (asked again while the hub has not passed the key down yet) */
    for (int i = 0; i < 100; i++) {
        s_run(&r, &g1, a.sw, "household", "transfer", "--household", hh, "--to", "gmina-2013072", "--fingerprint",
              "0000 0000 0000 0000 0000 0000 0000 0000", NULL);
        if (!kt_error_is(&r, "transfer.no_key"))
            break;
        kt_run_free(&r);
        kt_sleep_ms(300);
    }
    kt_refused(&r, 1, "transfer.fingerprint", "fingerprint", NULL);
    json_t *t = s_transfer(&a, &b, hh, fp);
    cr_assert_str_eq(json_string_value(json_object_get(t, "fingerprint")), fp);
    /* both gminas by the names they gave themselves (node init --name) */
    cr_assert_str_eq(kt_str(t, "from_node_name"), "Kobylin-Borzymy");
    cr_assert_str_eq(kt_str(t, "to_node_name"), "Wysokie Mazowieckie");
    cr_assert_str_eq(json_string_value(json_object_get(t, "state")), "pending");
    cr_assert_null(json_object_get(t, "sealed"), "the sealed bytes are never shown");
    json_decref(t);
    /* while it travels the sender changes nothing */
    s_run(&r, &g1, a.sw, "household", "update", "--household", hh, "--phone", "1", NULL);
    kt_refused(&r, 1, "transfer.pending", NULL, NULL);

    char *tid = s_wait_transfer(&b, 1);
    s_names_at_receiver(&b, "Kobylin-Borzymy", "Wysokie Mazowieckie");
    s_run(&r, &g2, b.sw, "transfer", "accept", "--transfer", tid, NULL);
    kt_refused(&r, 1, "access.denied.coordinator_action", NULL, NULL);
    s_run(&r, &g2, b.coord, "transfer", "accept", "--transfer", tid, NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "state")), "accepted");
    kt_run_free(&r);
    s_run(&r, &g2, b.coord, "transfer", "accept", "--transfer", tid, NULL);
    kt_refused(&r, 1, "transfer.answered", "transfer", NULL);

    /* the receiver has every field */
    s_run(&r, &g2, b.coord, "household", "show", "--household", hh, NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "name")), s_pii[0]);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "pesel")), s_pii[1]);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "birth")), "1979-03-02");
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "address")), s_pii[2]);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "phone")), s_pii[3]);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "owner")), "gmina-2013072");
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "transferred_from")), "gmina-2013032");
    cr_assert_str_eq(kt_str(r.json, "transferred_from_name"), "Kobylin-Borzymy");
    json_t *m = json_array_get(json_object_get(r.json, "members"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(m, "name")), s_pii[4]);
    cr_assert_str_eq(json_string_value(json_object_get(m, "relation")), s_pii[8]);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(r.json, "consents"), 0), "purpose")),
                     s_pii[7]);
    kt_run_free(&r);
    s_run(&r, &g2, b.coord, "ipw", "show", "--ipw", ipw, NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "previous_number")), "IPW/2026/0001");
    cr_assert_str_eq(kt_str(r.json, "transferred_from_name"), "Kobylin-Borzymy");
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "number")), "IPW/2026/0004", "a number of this gmina");
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "status")), "active");
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "coordinator")), b.coord);
    json_t *goal = json_array_get(json_object_get(r.json, "goals"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(goal, "description")), s_pii[6]);
    cr_assert_eq(json_array_size(json_object_get(goal, "scalings")), 1);
    cr_assert_eq(json_array_size(json_object_get(r.json, "tasks")), 1);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(r.json, "meetings"), 0), "topic")),
                     s_pii[5]);
    kt_run_free(&r);
    s_run(&r, &g2, b.coord, "ipw", "timeline", "--ipw", ipw, NULL);
    cr_assert(strstr(r.out, "otwarto program IPW/2026/0001") && strstr(r.out, "przyjęto sprawę z gminy gmina-2013032"),
              "the history came along: %s", r.out);
    kt_run_free(&r);
    /* the receiver works on it; the sender keeps a read-only copy */
    free(s_id(&g2, b.coord, "household", "update", "--household", hh, "--address", "ul. Nowa 9", NULL));
    s_wait_answer(&a, "accepted");
    s_run(&r, &g1, a.sw, "household", "update", "--household", hh, "--address", "ul. X", NULL);
    kt_refused(&r, 1, "record.transferred", NULL, NULL);
    s_run(&r, &g1, a.sw, "ipw", "suspend", "--ipw", ipw, "--date", "2026-06-01", NULL);
    kt_refused(&r, 1, "record.transferred", NULL, NULL);
    s_run(&r, &g1, a.sw, "household", "show", "--household", hh, NULL);
    cr_assert_eq(r.code, 0, "the sender still reads its copy: %s", r.err);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "transferred_to")), "gmina-2013072");
    cr_assert_str_eq(kt_str(r.json, "transferred_to_name"), "Wysokie Mazowieckie");
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "address")), s_pii[2]);
    kt_run_free(&r);
    kt_ctl(&r, &g1, "--as", a.sw, "household", "show", "--household", hh, NULL);
    cr_assert(strstr(r.out, "przekazano gminie  Wysokie Mazowieckie\n"), "the text names the gmina it went to:\n%s", r.out);
    kt_run_free(&r);
    /* the family's own copy says where its case went, on both sides */
    s_exported(&a, hh, tid, "accepted", 0,
               (const char *const[]){"przekazanie do gminy Wysokie Mazowieckie (gmina-2013072), ", ": przyjęte\n", fp,
                                     "Odpowiedź:", "Przekazano do gminy:     Wysokie Mazowieckie (gmina-2013072)", NULL},
               NULL);
    s_exported(&b, hh, tid, "accepted", 1,
               (const char *const[]){"przyjęcie z gminy Kobylin-Borzymy (gmina-2013032), ", ": przyjęte\n", "IPW/2026/0004",
                                     b.coord, "Przejęto z gminy:        Kobylin-Borzymy (gmina-2013032)", NULL},
               NULL);

    /* counted once: the powiat still has 7 programmes, now 3 + 4 */
    cr_assert_eq(kt_wait_synced(&g1, 60), 0);
    cr_assert_eq(kt_wait_synced(&g2, 60), 0);
    s_wait_figure(&hub, "gmina-2013072", "ipw_opened", 4);
    s_wait_figure(&hub, "gmina-2013032", "ipw_opened", 3);
    s_wait_figure(&hub, NULL, "ipw_opened", 7);
    s_wait_figure(&hub, NULL, "households", 7);
    s_wait_figure(&g1, NULL, "ipw_opened", 3);
    s_wait_figure(&g2, NULL, "ipw_opened", 4);
    s_no_pii_at(&hub);
    /* the same checks do find them where they belong (they can fail) */
    cr_assert(kt_lmdb_contains(g2.dir, s_pii[0], NULL), "mdb_dump does not show the name at the receiver");
    cr_assert(kt_lmdb_contains(g2.dir, s_pii[5], NULL));
    cr_assert(kt_dir_contains(g1.dir, s_pii[1]), "no file of the sender holds the PESEL");
    /* the chains and the records against their events, on both sides and at the hub */
    kt_verify_clean(&g1, "cases");
    kt_verify_clean(&g2, "cases");
    kt_verify_clean(&hub, "sync");
    free(tid);
    free(hh);
    free(ipw);
}

Test(transfer, a_declined_family_stays_and_is_unlocked)
{
    kt_run_t r;
    char *ipw, *hh = s_family(&a, "Rodzina Zostaje", &ipw);
    json_decref(s_transfer(&a, &b, hh, NULL));
    char *tid = s_wait_transfer(&b, 1);
    s_run(&r, &g2, b.coord, "transfer", "decline", "--transfer", tid, "--reason", "rodzina nie zamieszkała", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "state")), "declined");
    kt_run_free(&r);
    s_wait_answer(&a, "declined");
    free(s_id(&g1, a.sw, "household", "update", "--household", hh, "--address", "ul. Dalej 1", NULL));
    s_run(&r, &g2, b.coord, "household", "show", "--household", hh, NULL);
    kt_refused(&r, 1, "record.not_found", "household", NULL);
    /* the reason stays at the receiver: the answer carries a code only */
    s_run(&r, &g1, a.coord, "transfer", "list", NULL);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(r.json, 0), "answer")), "declined");
    cr_assert_null(strstr(r.out, "nie zamieszkała"));
    kt_run_free(&r);
    /* in text the answer is a word of the reader's language, not its code */
    kt_ctl(&r, &g1, "--as", a.coord, "transfer", "list", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "odrzucone") && !strstr(r.out, "declined"), "%s", r.out);
    kt_run_free(&r);
    s_exported(&a, hh, tid, "declined", 0,
               (const char *const[]){"przekazanie do gminy Wysokie Mazowieckie (gmina-2013072), ", ": odrzucone\n",
                                     "Odpowiedź:", a.sw, NULL},
               "nie zamieszkała");
    s_run(&r, &g1, a.sw, "household", "transfer", "--household", hh, "--to", "gmina-2013032", NULL);
    kt_refused(&r, 1, "transfer.self", "to", NULL);
    kt_verify_clean(&g1, "cases");
    kt_verify_clean(&g2, "cases");
    free(tid);
    free(hh);
    free(ipw);
}

/* PEERS up from a test-played child (as an uplink sends it): its name, and
 * the digest it holds (have NULL: none, as an older uplink). */
static void
s_say_have(kt_link_t *l, const char *name, const ProtobufCBinaryData *have)
{
    Koop__Sync__Frame f = KOOP__SYNC__FRAME__INIT;
    Koop__Sync__Peers p = KOOP__SYNC__PEERS__INIT;
    uint8_t buf[1024];
    size_t n;
    p.name = (char *)name;
    if (have) {
        p.has_have = 1;
        p.have = *have;
    }
    f.body_case = KOOP__SYNC__FRAME__BODY_PEERS;
    f.peers = &p;
    n = koop__sync__frame__get_packed_size(&f);
    cr_assert_leq(n, sizeof buf);
    koop__sync__frame__pack(&f, buf);
    cr_assert_eq(zsock_send(kt_link_sock(l), "b", buf, n), 0);
}

/* A name from another node is taken only as a name may be: one line of
 * visible text, no writing-direction controls, at most 200 bytes; a bad
 * one is dropped (the last good one stays) and the gmina is shown by its
 * node id where no name came. */
Test(transfer, a_gminas_name_is_taken_only_as_a_name_may_be)
{
    kt_node_t x;
    kt_link_t *l;
    Koop__Sync__Frame *rep;
    char name[256], longer[300];
    memset(longer, 'a', 201);
    longer[201] = '\0';
    cr_assert_eq(kt_gmina_init(&x, "2013099", "Gmina X", port, &hub), 0);
    cr_assert_eq(kt_enrol(&hub, &x), 0);
    cr_assert_not_null(l = kt_link_open(&x, &hub, port));
    rep = kt_link_hello(l, "gmina-2013099", "registry", "0190f1c2-0000-7000-8000-000000000099", 0);
    cr_assert(rep && rep->body_case == KOOP__SYNC__FRAME__BODY_WELCOME, "no WELCOME");
    koop__sync__frame__free_unpacked(rep, NULL);
    s_say_have(l, "Gmina \xe2\x80\xaeX", NULL); /* U+202E: would read backwards */
    s_say_have(l, longer, NULL);
    s_say_have(l, "Gmina\nX", NULL);
    kt_sleep_ms(2000); /* several of the hub's ticks: the directory has gone down meanwhile */
    s_dir_name(&g1, "gmina-2013099", name);
    cr_assert_str_eq(name, "", "a bad name reached the directory");
    s_say_have(l, "Gmina Iksińska", NULL);
    for (int i = 0; i < 100 && strcmp(name, "Gmina Iksińska") != 0; i++) {
        kt_sleep_ms(100);
        s_dir_name(&g1, "gmina-2013099", name);
    }
    cr_assert_str_eq(name, "Gmina Iksińska", "a good name never came down");
    s_say_have(l, "\x01", NULL);
    kt_sleep_ms(2000);
    s_dir_name(&g2, "gmina-2013099", name);
    cr_assert_str_eq(name, "Gmina Iksińska", "a bad name took the good one's place");
    /* the hub keeps its children's names: X offline, the hub restarted, the
     * directory it sends again still names X */
    kt_link_close(&l);
    cr_assert_eq(kt_node_stop(&hub), 0);
    cr_assert_eq(kt_node_start(&hub, 30), 0);
    cr_assert_eq(kt_wait_synced(&g1, 60), 0);
    kt_sleep_ms(2000);
    s_dir_name(&g1, "gmina-2013099", name);
    cr_assert_str_eq(name, "Gmina Iksińska", "the hub forgot the name over its restart");
    cr_assert_eq(kt_node_destroy(&x), 0);
}

/* Corrections are events: the hub's figures follow them after the sync. */
Test(transfer, corrections_change_the_hubs_figures)
{
    char *hh[6], *ipw[6];
    for (int i = 0; i < 6; i++)
        hh[i] = s_family(&a, "Rodzina", &ipw[i]);
    s_wait_figure(&hub, NULL, "ipw_opened", 6);
    for (int i = 0; i < 4; i++)
        free(s_id(&g1, a.sw, "ipw", "close", "--ipw", ipw[i], "--date", "2026-10-01", "--outcome", "success", NULL));
    s_wait_figure(&hub, NULL, "ipw_closed", 4);
    free(s_id(&g1, a.sw, "ipw", "reopen", "--ipw", ipw[0], "--reason", "zamknięte omyłkowo", NULL));
    s_wait_figure(&hub, NULL, "ipw_closed", 3);
    free(s_id(&g1, a.sw, "ipw", "correct", "--ipw", ipw[1], "--date", "2026-09-01", "--reason", "data z protokołu", NULL));
    s_wait_figure(&hub, NULL, "ipw_closed", 3); /* still in the year */
    free(s_id(&g1, a.sw, "record", "remove", "--id", ipw[5], "--reason", "nie ta rodzina", NULL));
    s_wait_figure(&hub, NULL, "ipw_opened", 5);
    free(s_id(&g1, a.sw, "ipw", "update", "--ipw", ipw[4], "--opened", "2025-12-20", "--reason", "data z wniosku", NULL));
    s_wait_figure(&hub, NULL, "ipw_opened", 4);
    s_wait_figure(&g1, NULL, "ipw_opened", 4); /* the gmina's own figures agree */
    for (int i = 0; i < 6; i++)
        free(hh[i]), free(ipw[i]);
}

/* ---- two powiat hubs under a voivodeship hub ---- */

static kt_node_t voiv, pow1, pow2, t1, t2;

static void
s_tree_setup(void)
{
    int vport = 0, p1port = kt_free_port(), p2port = kt_free_port();
    char ep[64], key[PATH_MAX + 32], listen[64];
    cr_assert_eq(kt_hub_init(&voiv, "20", "Województwo", &vport), 0);
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", vport);
    snprintf(key, sizeof key, "%s/keys/node.pub", voiv.dir);
    snprintf(listen, sizeof listen, "tcp://127.0.0.1:%d", p1port);
    cr_assert_eq(kt_node_init(&pow1, "hub", "2013", "Powiat 1", "--listen", listen, "--hub", ep, "--hub-key", key, NULL), 0);
    snprintf(listen, sizeof listen, "tcp://127.0.0.1:%d", p2port);
    cr_assert_eq(kt_node_init(&pow2, "hub", "2014", "Powiat 2", "--listen", listen, "--hub", ep, "--hub-key", key, NULL), 0);
    cr_assert_eq(kt_gmina_init(&t1, "2013032", "Kobylin-Borzymy", p1port, &pow1), 0);
    cr_assert_eq(kt_gmina_init(&t2, "2014011", "Zambrów", p2port, &pow2), 0);
    cr_assert_eq(kt_enrol(&voiv, &pow1), 0);
    cr_assert_eq(kt_enrol(&voiv, &pow2), 0);
    cr_assert_eq(kt_enrol(&pow1, &t1), 0);
    cr_assert_eq(kt_enrol(&pow2, &t2), 0);
    kt_node_t *all[] = {&voiv, &pow1, &pow2, &t1, &t2};
    for (size_t i = 0; i < 5; i++)
        cr_assert_eq(kt_node_start(all[i], 30), 0);
    s_staff(&a, &t1, "Kobylin");
    s_staff(&b, &t2, "Zambrów");
}

static void
s_tree_teardown(void)
{
    int reports = 0;
    kt_node_t *all[] = {&t1, &t2, &pow1, &pow2, &voiv};
    for (size_t i = 0; i < 5; i++)
        reports += kt_node_destroy(all[i]);
    s_staff_free(&a);
    s_staff_free(&b);
    cr_assert_eq(reports, 0, "sanitizer reports in the nodes' logs");
}

TestSuite(transfer_tree, .init = s_tree_setup, .fini = s_tree_teardown, .timeout = 120);

Test(transfer_tree, through_two_powiat_hubs_and_a_voivodeship_hub)
{
    kt_run_t r;
    char *ipw, *hh = s_rich_family(&a, &ipw), *x, *xi;
    for (int i = 0; i < 3; i++) {
        x = s_family(&a, "Rodzina A", &xi);
        free(x), free(xi);
        x = s_family(&b, "Rodzina B", &xi);
        free(x), free(xi);
    }
    s_wait_figure(&voiv, NULL, "ipw_opened", 7);
    s_names_known(&t1, "gmina-2013032", "Kobylin-Borzymy", &t2, "gmina-2014011", "Zambrów");
    json_t *t = s_transfer(&a, &b, hh, NULL);
    /* the names cross the tree as the keys do: up to the voivodeship and down the other side */
    cr_assert_str_eq(kt_str(t, "to_node_name"), "Zambrów");
    json_decref(t);
    char *tid = s_wait_transfer(&b, 1);
    s_names_at_receiver(&b, "Kobylin-Borzymy", "Zambrów");
    s_run(&r, &t2, b.coord, "transfer", "accept", "--transfer", tid, NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    kt_run_free(&r);
    s_run(&r, &t2, b.coord, "household", "show", "--household", hh, NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "pesel")), s_pii[1]);
    kt_run_free(&r);
    s_wait_answer(&a, "accepted");
    s_run(&r, &t1, a.sw, "household", "update", "--household", hh, "--address", "ul. X", NULL);
    kt_refused(&r, 1, "record.transferred", NULL, NULL);
    /* counted once at every level, where it is */
    s_wait_figure(&voiv, NULL, "ipw_opened", 7);
    s_wait_figure(&voiv, "hub-2013", "ipw_opened", 3);
    s_wait_figure(&voiv, "hub-2014", "ipw_opened", 4);
    s_wait_figure(&voiv, NULL, "households", 7);
    s_wait_figure(&pow1, NULL, "ipw_opened", 3);
    s_wait_figure(&pow2, NULL, "ipw_opened", 4);
    s_no_pii_at(&voiv);
    s_no_pii_at(&pow1);
    s_no_pii_at(&pow2);
    free(tid);
    free(hh);
    free(ipw);
}

/* ---- the key directory goes down only to a child that lacks it ---- */

static kt_node_t dhub, d1, d2;
static int dport;

static void
s_dir_setup(void)
{
    s_powiat(&dhub, &d1, &d2, &dport);
}

static void
s_dir_teardown(void)
{
    cr_assert_eq(s_powiat_destroy(&dhub, &d1, &d2), 0, "sanitizer reports in the nodes' logs");
}

TestSuite(transfer_keys, .init = s_dir_setup, .fini = s_dir_teardown, .timeout = 180);

/* n's sync.status straight from its koop-sync (one request, no wait), or
 * NULL when it did not answer. */
static Koop__Sync__Status *
s_status_once(kt_node_t *n, int timeout_ms)
{
    Koop__Empty q = KOOP__EMPTY__INIT;
    uint8_t *payload = NULL;
    size_t len = 0;
    Koop__Sync__Status *st = NULL;
    if (kt_request(n, "sync", NULL, "sync.status", &q.base, timeout_ms, &payload, &len) == 0)
        st = koop__sync__status__unpack(NULL, len, payload);
    free(payload);
    return st;
}

/* How many key directories hub has sent down since its koop-sync started
 * (its sync.status reply's dir_sent). */
static uint64_t
s_dir_sent(kt_node_t *h)
{
    Koop__Sync__Status *st = NULL;
    uint64_t n;
    for (int i = 0; i < 50 && !(st = s_status_once(h, 5000)); i++)
        kt_sleep_ms(200); /* koop-sync restarting */
    cr_assert_not_null(st, "no sync status of %s", h->dir);
    cr_assert(st->has_dir_sent, "the hub's status has no dir_sent");
    n = st->dir_sent;
    koop__sync__status__free_unpacked(st, NULL);
    return n;
}

/* The same once it has not moved for 2 s (every child took what it was sent). */
static uint64_t
s_dir_sent_settled(kt_node_t *h)
{
    uint64_t last = s_dir_sent(h), now;
    for (int i = 0; i < 30; i++) {
        kt_sleep_ms(2000);
        if ((now = s_dir_sent(h)) == last)
            return now;
        last = now;
    }
    cr_assert_fail("the hub never stopped sending its directory (%llu sent)", (unsigned long long)last);
    return 0;
}

/* Waits until gmina n's directory names node `name`. */
static void
s_dir_names(kt_node_t *n, const char *node, const char *name)
{
    char got[256] = "";
    for (int i = 0; i < 150 && strcmp(got, name) != 0; i++) {
        s_dir_name(n, node, got);
        if (strcmp(got, name) != 0)
            kt_sleep_ms(200);
    }
    cr_assert_str_eq(got, name, "%s never named %s", n->dir, node);
}

/* Both gminas hold each other's key and name. */
static void
s_dir_current(void)
{
    s_dir_names(&d1, "gmina-2013072", "Wysokie Mazowieckie");
    s_dir_names(&d2, "gmina-2013032", "Kobylin-Borzymy");
}

/* Once every child holds the directory, neither a child's reconnect nor a
 * whole round (30 s) sends it again: what went down every 30 s and at
 * every connect, to every child, now goes nowhere. */
Test(transfer_keys, a_round_with_no_change_sends_no_directory)
{
    uint64_t sent;
    s_dir_current();
    sent = s_dir_sent_settled(&dhub);
    cr_assert_geq(sent, 2, "the directory went to %llu children", (unsigned long long)sent);
    cr_assert_gt(kt_sync_kill9(&d2), 0, "koop-sync of the gmina did not come back");
    cr_assert_eq(kt_wait_synced(&d2, 60), 0);
    kt_sleep_ms(3000);
    cr_assert_eq(s_dir_sent(&dhub), sent, "a child's reconnect sent the directory again");
    kt_sleep_ms(32000); /* past a round (SYNC_PEERS_MS) */
    cr_assert_eq(s_dir_sent(&dhub), sent, "a round with no change sent the directory");
    s_dir_current();
    /* what the hub's operator reads of it */
    {
        kt_run_t r;
        char line[96];
        kt_ctl(&r, &dhub, "--json", "sync", "status", NULL);
        cr_assert_eq(r.code, 0, "%s", r.err);
        cr_assert_eq(json_integer_value(json_object_get(r.json, "dir_sent")), (json_int_t)sent, "%s", r.out);
        cr_assert_gt(json_integer_value(json_object_get(r.json, "dir_bytes")), 0, "%s", r.out);
        kt_run_free(&r);
        kt_ctl(&r, &dhub, "--lang", "en", "sync", "status", NULL);
        snprintf(line, sizeof line, "the key directory sent to the nodes below: %llu times,", (unsigned long long)sent);
        cr_assert(strstr(r.out, line), "no '%s' in:\n%s", line, r.out);
        kt_run_free(&r);
        kt_ctl(&r, &dhub, "sync", "status", NULL);
        cr_assert(strstr(r.out, "katalog kluczy wysłany węzłom poniżej: "), "%s", r.out);
        kt_run_free(&r);
    }
}

/* Replaces the line `name = ...` of a stopped node's configuration. */
static void
s_rename(kt_node_t *n, const char *name)
{
    char buf[16384], *at, *end;
    size_t len;
    FILE *f = fopen(n->conf, "r");
    cr_assert_not_null(f, "%s", n->conf);
    len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = '\0';
    cr_assert_not_null(at = strstr(buf, "\nname = "), "no name in %s", n->conf);
    cr_assert_not_null(end = strchr(at + 1, '\n'));
    cr_assert_not_null(f = fopen(n->conf, "w"), "%s", n->conf);
    cr_assert(fprintf(f, "%.*s\nname = %s%s", (int)(at - buf), buf, name, end) > 0);
    cr_assert_eq(fclose(f), 0);
}

/* Waits until d1 and d2 name gmina-2013099 (d3) `name`: the hub's count
 * of directories sent, which went to each of the 3 children once (twice
 * when a second change came on the heels of the first), since `before`. */
static uint64_t
s_dir_reached(const char *name, uint64_t before)
{
    uint64_t sent;
    s_dir_names(&d1, "gmina-2013099", name);
    s_dir_names(&d2, "gmina-2013099", name);
    sent = s_dir_sent_settled(&dhub);
    cr_assert(sent - before >= 3 && sent - before <= 6, "%s: %llu directories for 3 children", name,
              (unsigned long long)(sent - before));
    return sent;
}

/* A new gmina, a rename and a child that lost its copy: each change reaches
 * every child, once each; the one without a copy gets it again. */
Test(transfer_keys, a_change_reaches_every_child_and_a_lost_copy_comes_back)
{
    kt_node_t d3;
    char env[PATH_MAX + 16];
    uint64_t sent0, sent1, sent2, sent3;
    s_dir_current();
    sent0 = s_dir_sent_settled(&dhub);
    /* enrolled */
    cr_assert_eq(kt_gmina_init(&d3, "2013099", "Gmina Trzecia", dport, &dhub), 0);
    cr_assert_eq(kt_enrol(&dhub, &d3), 0);
    cr_assert_eq(kt_node_start(&d3, 30), 0);
    sent1 = s_dir_reached("Gmina Trzecia", sent0);
    s_dir_names(&d3, "gmina-2013032", "Kobylin-Borzymy");
    /* renamed */
    cr_assert_eq(kt_node_stop(&d3), 0);
    s_rename(&d3, "Gmina Przemianowana");
    cr_assert_eq(kt_node_start(&d3, 30), 0);
    sent2 = s_dir_reached("Gmina Przemianowana", sent1);
    /* d2 loses its copy (table "peers" emptied while it is down) */
    cr_assert_eq(kt_node_stop(&d2), 0);
    kt_lmdb_env(&d2, "sync", env, sizeof env);
    for (int i = 0; i < 10 && kt_lmdb_edit(env, "peers", NULL, "", NULL, NULL, 0) == 0; i++)
        ;
    cr_assert_neq(kt_lmdb_edit(env, "peers", NULL, "", NULL, NULL, 0), 0, "table peers still holds entries");
    cr_assert_eq(kt_node_start(&d2, 30), 0);
    s_dir_names(&d2, "gmina-2013099", "Gmina Przemianowana");
    s_dir_names(&d2, "gmina-2013032", "Kobylin-Borzymy");
    sent3 = s_dir_sent_settled(&dhub);
    cr_assert_eq(sent3 - sent2, 1, "a child without its copy: %llu directories, want 1 (to it alone)",
                 (unsigned long long)(sent3 - sent2));
    cr_assert_eq(kt_node_destroy(&d3), 0);
}

/* 1 when n's koop-sync says its uplink is connected (one request, no wait). */
static int
s_uplink_connected(kt_node_t *n)
{
    Koop__Sync__Status *st = s_status_once(n, 1000);
    int up = st && st->uplink && st->uplink->connected;
    if (st)
        koop__sync__status__free_unpacked(st, NULL);
    return up;
}

/* 1 when n's directory holds node's key (one request, no wait). */
static int
s_has_key(kt_node_t *n, const char *node)
{
    Koop__Sync__KeyReply *k = s_key_once(n, node);
    if (k)
        koop__sync__key_reply__free_unpacked(k, NULL);
    return k != NULL;
}

/* In a powiat's small tree a new gmina's key reaches the other gminas at
 * its connect, not after the quiet a 2,500-child round waits for
 * (PEERS_QUIET_MS, 1 s, after the last change, which was >= 1 s after the
 * connect): the acceptance check sends a household to a gmina ~1 s after
 * that gmina first connected. Polled every 20 ms from d3's side and d1's. */
Test(transfer_keys, a_new_gminas_key_reaches_the_others_at_its_connect)
{
    kt_node_t d3;
    int64_t up_ms = -1, key_ms = -1, t0;
    s_dir_current();
    cr_assert_eq(kt_gmina_init(&d3, "2013099", "Gmina Trzecia", dport, &dhub), 0);
    cr_assert_eq(kt_enrol(&dhub, &d3), 0);
    cr_assert_eq(kt_node_start(&d3, 30), 0);
    t0 = zclock_mono();
    while ((up_ms < 0 || key_ms < 0) && zclock_mono() - t0 < 30000) {
        if (key_ms < 0 && s_has_key(&d1, "gmina-2013099"))
            key_ms = zclock_mono() - t0;
        if (up_ms < 0 && s_uplink_connected(&d3))
            up_ms = zclock_mono() - t0;
        kt_sleep_ms(20);
    }
    cr_assert_geq(up_ms, 0, "the new gmina never connected");
    cr_assert_geq(key_ms, 0, "the new gmina's key never reached gmina-2013032");
    cr_assert_lt(key_ms - up_ms, 1000, "the new gmina's key reached gmina-2013032 %lld ms after it connected",
                 (long long)(key_ms - up_ms));
    cr_assert_eq(kt_node_destroy(&d3), 0);
}

/* The hub's koop-sync killed (kill -9) and back: children that hold the
 * directory are sent nothing (its digest did not change with the restart);
 * the hub stopped, a gmina enrolled meanwhile, the hub back: every child
 * gets the new directory. */
Test(transfer_keys, a_restarted_hub_brings_every_child_current)
{
    kt_node_t d3;
    s_dir_current();
    (void)s_dir_sent_settled(&dhub);
    cr_assert_gt(kt_sync_kill9(&dhub), 0, "koop-sync of the hub did not come back");
    cr_assert_eq(kt_wait_synced(&d1, 60), 0);
    cr_assert_eq(kt_wait_synced(&d2, 60), 0);
    cr_assert_eq(s_dir_sent_settled(&dhub), 0, "children that hold the directory were sent it after the restart");
    cr_assert_eq(kt_node_stop(&dhub), 0);
    cr_assert_eq(kt_gmina_init(&d3, "2013099", "Gmina Trzecia", dport, &dhub), 0);
    cr_assert_eq(kt_enrol(&dhub, &d3), 0);
    cr_assert_eq(kt_node_start(&dhub, 30), 0);
    cr_assert_eq(kt_node_start(&d3, 30), 0);
    s_dir_names(&d1, "gmina-2013099", "Gmina Trzecia");
    s_dir_names(&d2, "gmina-2013099", "Gmina Trzecia");
    s_dir_names(&d3, "gmina-2013072", "Wysokie Mazowieckie");
    cr_assert_eq(kt_node_destroy(&d3), 0);
}

/* The next PEERS the hub sends within ms (pinging meanwhile, so that the
 * session stays live), or NULL. */
static Koop__Sync__Frame *
s_next_peers(kt_link_t *l, int ms)
{
    Koop__Sync__Frame ping = KOOP__SYNC__FRAME__INIT;
    Koop__Sync__Ping p = KOOP__SYNC__PING__INIT;
    uint8_t buf[64];
    size_t n;
    ping.body_case = KOOP__SYNC__FRAME__BODY_PING;
    ping.ping = &p;
    n = koop__sync__frame__pack(&ping, buf);
    zsock_set_rcvtimeo(kt_link_sock(l), 500);
    for (int waited = 0; waited < ms; waited += 500) {
        zframe_t *fr;
        cr_assert_eq(zsock_send(kt_link_sock(l), "b", buf, n), 0);
        while ((fr = zframe_recv(kt_link_sock(l))) != NULL) {
            Koop__Sync__Frame *f = koop__sync__frame__unpack(NULL, zframe_size(fr), zframe_data(fr));
            zframe_destroy(&fr);
            if (f && f->body_case == KOOP__SYNC__FRAME__BODY_PEERS)
                return f;
            if (f)
                koop__sync__frame__free_unpacked(f, NULL);
        }
    }
    return NULL;
}

/* 1 when the directory f names node as name. */
static int
s_lists(const Koop__Sync__Frame *f, const char *node, const char *name)
{
    for (size_t i = 0; i < f->peers->n_peers; i++)
        if (strcmp(f->peers->peers[i]->node, node) == 0)
            return f->peers->peers[i]->name && strcmp(f->peers->peers[i]->name, name) == 0;
    return 0;
}

/* The frames a child sees: the directory with its digest to one that says
 * none (an older uplink) or an older one, nothing to one that holds it,
 * whether it said so on the same connection or on a new one. */
Test(transfer_keys, the_hub_sends_its_directory_only_to_a_child_that_lacks_it)
{
    kt_node_t x;
    kt_link_t *l;
    Koop__Sync__Frame *rep, *dir = NULL;
    ProtobufCBinaryData have, older = {16, (uint8_t *)"0123456789abcdef"};
    uint8_t digest[64];
    s_dir_current();
    cr_assert_eq(kt_gmina_init(&x, "2013098", "Gmina X", dport, &dhub), 0);
    cr_assert_eq(kt_enrol(&dhub, &x), 0);
    for (int round = 0; round < 3; round++) {
        cr_assert_not_null(l = kt_link_open(&x, &dhub, dport));
        rep = kt_link_hello(l, "gmina-2013098", "registry", "0190f1c2-0000-7000-8000-000000000098", 0);
        cr_assert(rep && rep->body_case == KOOP__SYNC__FRAME__BODY_WELCOME, "no WELCOME");
        koop__sync__frame__free_unpacked(rep, NULL);
        if (round == 0) {
            /* none held: the directory comes (again as the child's name joins it) */
            s_say_have(l, "Gmina X", NULL);
            while ((rep = s_next_peers(l, 8000)) != NULL) {
                int done = s_lists(rep, "gmina-2013098", "Gmina X");
                if (dir)
                    koop__sync__frame__free_unpacked(dir, NULL);
                dir = rep;
                if (done)
                    break;
            }
            cr_assert_not_null(dir, "no directory for a child that holds none");
            cr_assert(s_lists(dir, "gmina-2013032", "Kobylin-Borzymy") && s_lists(dir, "gmina-2013072", "Wysokie Mazowieckie") &&
                          s_lists(dir, "gmina-2013098", "Gmina X"),
                      "the directory lacks a gmina");
            cr_assert(dir->peers->has_digest && dir->peers->digest.len == 16, "no digest");
            memcpy(digest, dir->peers->digest.data, dir->peers->digest.len);
            have.len = dir->peers->digest.len;
            have.data = digest;
            koop__sync__frame__free_unpacked(dir, NULL);
            dir = NULL;
        }
        if (round == 1) {
            /* an older directory, on a new connection: it comes again */
            s_say_have(l, "Gmina X", &older);
            rep = s_next_peers(l, 5000);
            cr_assert_not_null(rep, "no directory for a child that holds an older one");
            cr_assert(rep->peers->digest.len == have.len && memcmp(rep->peers->digest.data, digest, have.len) == 0,
                      "another directory came");
            koop__sync__frame__free_unpacked(rep, NULL);
        }
        /* the directory held: nothing comes */
        s_say_have(l, "Gmina X", &have);
        rep = s_next_peers(l, 3000);
        cr_assert_null(rep, "a directory for a child that holds it");
        kt_link_close(&l);
    }
    cr_assert_eq(kt_node_destroy(&x), 0);
}

/* When hub last had a HELLO of its child node, as its status says it
 * ("" none), into out; 1 when it shows the child connected. */
static int
s_hello_at(kt_node_t *hub_node, const char *node, char out[64])
{
    json_t *st = kt_sync_status(hub_node), *n = st ? kt_hub_node(st, node) : NULL;
    int connected = n && json_is_true(json_object_get(n, "connected"));
    snprintf(out, 64, "%s", n && json_is_string(json_object_get(n, "hello")) ? kt_str(n, "hello") : "");
    json_decref(st);
    return connected;
}

/* A powiat hub is also a child: its koop-sync killed (kill -9) and back,
 * it says the voivodeship's directory it kept, so neither the voivodeship
 * sends it again nor the powiat to its gmina (the powiat's own digest is
 * the same after its restart); the directory still crosses the tree. */
Test(transfer_tree, a_hub_in_the_middle_restarted_is_sent_nothing_it_holds)
{
    uint64_t at_voiv;
    char before[64], now[64];
    s_names_known(&t1, "gmina-2013032", "Kobylin-Borzymy", &t2, "gmina-2014011", "Zambrów");
    at_voiv = s_dir_sent_settled(&voiv);
    cr_assert_geq(at_voiv, 2, "the voivodeship sent its directory to %llu powiats", (unsigned long long)at_voiv);
    (void)s_hello_at(&voiv, "hub-2013", before);
    cr_assert_gt(kt_sync_kill9(&pow1), 0, "koop-sync of the powiat did not come back");
    for (int i = 0; i < 300 && !(s_hello_at(&voiv, "hub-2013", now) && strcmp(now, before) != 0); i++)
        kt_sleep_ms(200);
    cr_assert_str_neq(now, before, "the powiat never said HELLO again");
    cr_assert_eq(kt_wait_synced(&t1, 60), 0);
    cr_assert_eq(s_dir_sent_settled(&voiv), at_voiv, "the voivodeship sent its directory again");
    cr_assert_eq(s_dir_sent_settled(&pow1), 0, "the restarted powiat sent its gmina the directory it holds");
    s_names_known(&t1, "gmina-2013032", "Kobylin-Borzymy", &t2, "gmina-2014011", "Zambrów");
}
