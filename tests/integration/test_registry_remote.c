/*
 * Registry "remote.apply": hub-owned records come down as the hub's events
 * and are stored read-only, with the down-log position in the same
 * transaction. Driven over the registry's real socket (as the uplink does).
 */
#include "koop_test.h"
#include "kt_cases.h"
#include "config.h"
#include "envelope.pb-c.h"
#include "id.h"
#include "registry.pb-c.h"
#include "client.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static kt_node_t node;
static koop_rpc_client_t *client;

static void
s_setup(void)
{
    koop_config_t cfg;
    char err[600];
    cr_assert_eq(kt_node_init(&node, "gmina", "2013032", "Kobylin-Borzymy", NULL), 0);
    cr_assert_eq(kt_node_start(&node, 20), 0, "node did not start");
    cr_assert_eq(koop_config_load(&cfg, node.conf, err, sizeof err), 0, "%s", err);
    client = koop_rpc_client_new(koop_config_endpoint(&cfg, "registry"));
    cr_assert_not_null(client);
}

static void
s_teardown(void)
{
    koop_rpc_client_destroy(&client);
    kt_node_destroy(&node);
}

TestSuite(registry_remote, .init = s_setup, .fini = s_teardown, .timeout = 120);

/* A hub's "institution.added" event for a record owned by `owner`; caller frees. */
static uint8_t *
s_institution_event(const char *id, const char *name, const char *owner, uint64_t seq, size_t *len)
{
    Koop__Reg__Institution r = KOOP__REG__INSTITUTION__INIT;
    Koop__Event ev = KOOP__EVENT__INIT;
    char evid[KOOP_ID_LEN];
    uint8_t *payload, *out;

    r.id = (char *)id;
    r.name = (char *)name;
    r.has_sector = r.has_level = r.has_active = 1;
    r.sector = KOOP__REG__SECTOR__SECTOR_FAMILY_SUPPORT;
    r.level = KOOP__REG__LEVEL__LEVEL_POWIAT;
    r.active = 1;
    r.owner = (char *)owner;
    payload = malloc(koop__reg__institution__get_packed_size(&r));
    ev.payload.len = koop__reg__institution__pack(&r, payload);
    ev.payload.data = payload;
    ev.has_payload = 1;
    koop_id_new(evid);
    ev.node = (char *)owner;
    ev.stream = "registry";
    ev.has_seq = 1;
    ev.seq = seq;
    ev.id = evid;
    ev.has_scope = 1;
    ev.scope = KOOP__SCOPE__SCOPE_SHARED;
    ev.type = "institution.added";
    *len = koop__event__get_packed_size(&ev);
    out = malloc(*len);
    koop__event__pack(&ev, out);
    free(payload);
    return out;
}

/* Calls remote.apply; returns the reply position (caller frees) or NULL on a refusal. */
static Koop__Reg__RemotePosition *
s_apply(uint64_t from, uint64_t to, ProtobufCBinaryData *events, size_t n, int *status)
{
    Koop__Reg__RemoteApply q = KOOP__REG__REMOTE_APPLY__INIT;
    Koop__Reg__RemotePosition *p = NULL;
    koop_reply_t reply;
    q.source = "hub-2013";
    q.log_id = "down-log-1";
    q.has_from_seq = q.has_to_seq = 1;
    q.from_seq = from;
    q.to_seq = to;
    q.events = events;
    q.n_events = n;
    cr_assert_eq(koop_rpc_call(client, NULL, "remote.apply", &q.base, 5000, &reply), 0);
    *status = reply.status;
    if (reply.status == 0)
        p = koop__reg__remote_position__unpack(NULL, reply.len, reply.payload);
    koop_reply_clear(&reply);
    return p;
}

Test(registry_remote, hub_records_are_stored_read_only_with_their_position)
{
    char id[KOOP_ID_LEN], id2[KOOP_ID_LEN];
    ProtobufCBinaryData ev[2];
    Koop__Reg__RemotePosition *p;
    kt_run_t r;
    int st;

    koop_id_new(id);
    koop_id_new(id2);
    ev[0].data = s_institution_event(id, "PCPR Wysokie Mazowieckie", "hub-2013", 3, &ev[0].len);
    ev[1].data = s_institution_event(id2, "PUP Wysokie Mazowieckie", "hub-2013", 5, &ev[1].len);

    /* a snapshot chunk applies whatever the position, and sets it */
    p = s_apply(0, 5, ev, 2, &st);
    cr_assert_eq(st, 0);
    cr_assert_eq(p->applied, 2);
    cr_assert_eq(p->seq, 5);
    koop__reg__remote_position__free_unpacked(p, NULL);

    kt_ctl(&r, &node, "--json", "institution", "show", "--id", id, NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "owner")), "hub-2013");
    kt_run_free(&r);

    /* read-only here */
    kt_ctl(&r, &node, "--json", "institution", "update", "--id", id, "--name", "Zmieniona", NULL);
    kt_refused(&r, 1, "record.not_owner", "id", "institution", id, "hub-2013", NULL);

    /* an update at the wrong position changes nothing and says where we are */
    free(ev[0].data);
    ev[0].data = s_institution_event(id, "PCPR (nowa nazwa)", "hub-2013", 9, &ev[0].len);
    p = s_apply(7, 9, ev, 1, &st);
    cr_assert_eq(st, 0);
    cr_assert_eq(p->applied, 0);
    cr_assert_eq(p->seq, 5);
    koop__reg__remote_position__free_unpacked(p, NULL);
    kt_ctl(&r, &node, "--json", "institution", "show", "--id", id, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "name")), "PCPR Wysokie Mazowieckie");
    kt_run_free(&r);

    /* at the right position it applies */
    p = s_apply(5, 9, ev, 1, &st);
    cr_assert_eq(p->applied, 1);
    cr_assert_eq(p->seq, 9);
    koop__reg__remote_position__free_unpacked(p, NULL);
    kt_ctl(&r, &node, "--json", "institution", "show", "--id", id, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "name")), "PCPR (nowa nazwa)");
    kt_run_free(&r);

    /* announced locally, as the hub's bytes, never SHARED (no echo to the hub):
     * the log has them (as a service of the node reads it), an operator's
     * listing of what may leave the node has none */
    {
        kt_event_t *ev_log = NULL;
        long n = kt_events(&node, "registry", 0, &ev_log);
        cr_assert_eq(n, 3);
        for (long i = 0; i < n; i++) {
            cr_assert_eq(ev_log[i].scope, KOOP__SCOPE__SCOPE_LOCAL);
            cr_assert_str_eq(ev_log[i].type, "remote.institution.added");
        }
        kt_events_free(ev_log, n);
    }
    kt_ctl(&r, &node, "--json", "events", "list", "--stream", "registry", NULL);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert_eq(json_array_size(r.json), 0, "LOCAL events listed for an operator: %s", r.out);
    kt_run_free(&r);
    free(ev[0].data);
    free(ev[1].data);
}

/* Calls remote.apply with events that must be refused whole: the reply's
 * code names event `at` (1-based) and why; nothing is applied. */
static void
s_refused(ProtobufCBinaryData *events, size_t n, const char *at, const char *why)
{
    Koop__Reg__RemoteApply q = KOOP__REG__REMOTE_APPLY__INIT;
    koop_reply_t reply;
    q.source = "hub-2013";
    q.log_id = "down-log-1";
    q.has_from_seq = q.has_to_seq = 1;
    q.to_seq = 3;
    q.events = events;
    q.n_events = n;
    cr_assert_eq(koop_rpc_call(client, NULL, "remote.apply", &q.base, 5000, &reply), 0);
    cr_assert_eq(reply.status, KOOP_MALFORMED, "a bad Down was taken (%s)", why);
    kt_err_is(why, reply.err.code, reply.err.field, "remote.event", "events");
    cr_assert_geq(reply.err.nargs, 3);
    cr_assert_str_eq(reply.err.args[0], at);
    cr_assert_str_eq(reply.err.args[2], why);
    koop_reply_clear(&reply);
}

Test(registry_remote, never_overwrites_own_records_nor_takes_people)
{
    ProtobufCBinaryData ev[3];
    kt_run_t r;
    char bad_id[KOOP_ID_LEN], good_id[KOOP_ID_LEN], other_id[KOOP_ID_LEN];
    int st;
    char *own = kt_ctl_id(&node, "institution", "add", "--name", "GOPS", "--sector", "social_assistance",
                          "--level", "gmina", NULL);
    cr_assert_not_null(own);
    koop_id_new(good_id);
    koop_id_new(bad_id);
    koop_id_new(other_id);

    /* a good record first: refused with the bad one after it (nothing of a
     * Down is kept when one of its events fails) */
    ev[0].data = s_institution_event(good_id, "PCPR", "hub-2013", 1, &ev[0].len);
    /* a hub event that would overwrite this node's record */
    ev[1].data = s_institution_event(own, "Przejęty", "hub-2013", 2, &ev[1].len);
    s_refused(ev, 2, "2", "down_self");
    free(ev[1].data);
    /* a record claiming this node as its owner */
    ev[1].data = s_institution_event(bad_id, "Podszywka", "gmina-2013032", 2, &ev[1].len);
    s_refused(ev, 2, "2", "down_self");
    free(ev[1].data);
    /* a record whose owner is not the node that wrote the event */
    ev[1].data = s_institution_event(bad_id, "Podszywka", "hub-2013", 2, &ev[1].len);
    {
        Koop__Event *e = koop__event__unpack(NULL, ev[1].len, ev[1].data);
        e->node = "hub-20";
        free(ev[1].data);
        ev[1].len = koop__event__get_packed_size(e);
        ev[1].data = malloc(ev[1].len);
        koop__event__pack(e, ev[1].data);
        e->node = NULL;
        koop__event__free_unpacked(e, NULL);
    }
    s_refused(ev, 2, "2", "down_owner");
    free(ev[1].data);
    /* garbage */
    ev[1].data = (uint8_t *)strdup("\xff\xff\xff not an event");
    ev[1].len = strlen((char *)ev[1].data);
    s_refused(ev, 2, "2", "down_undecodable");
    /* a record of another hub that this hub now claims */
    ev[2].data = s_institution_event(other_id, "Powiatowy", "hub-2014", 1, &ev[2].len);
    {
        Koop__Reg__RemotePosition *p = s_apply(0, 1, &ev[2], 1, &st);
        cr_assert_eq(st, 0);
        cr_assert_eq(p->applied, 1);
        koop__reg__remote_position__free_unpacked(p, NULL);
    }
    free(ev[2].data);
    ev[2].data = s_institution_event(other_id, "Przejęty", "hub-2013", 2, &ev[2].len);
    s_refused(&ev[2], 1, "1", "down_other");

    kt_ctl(&r, &node, "--json", "institution", "show", "--id", own, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "name")), "GOPS");
    kt_run_free(&r);
    kt_ctl(&r, &node, "--json", "institution", "show", "--id", other_id, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "name")), "Powiatowy");
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "owner")), "hub-2014");
    kt_run_free(&r);
    kt_ctl(&r, &node, "--json", "institution", "show", "--id", bad_id, NULL);
    kt_refused(&r, 1, "record.not_found", "id", "institution", bad_id, NULL);
    kt_ctl(&r, &node, "--json", "institution", "show", "--id", good_id, NULL);
    kt_refused(&r, 1, "record.not_found", "id", "institution", good_id, NULL);

    /* bad source: refused as a whole */
    {
        Koop__Reg__RemoteApply q = KOOP__REG__REMOTE_APPLY__INIT;
        koop_reply_t reply;
        q.source = "gmina-2013032";
        q.log_id = "x";
        cr_assert_eq(koop_rpc_call(client, NULL, "remote.apply", &q.base, 5000, &reply), 0);
        cr_assert_eq(reply.status, 1 /* INVALID */);
        kt_err_is("remote.apply from this node itself", reply.err.code, reply.err.field, "remote.source", "source");
        koop_reply_clear(&reply);
        q.source = "hub-2013";
        q.log_id = "no spaces allowed";
        cr_assert_eq(koop_rpc_call(client, NULL, "remote.apply", &q.base, 5000, &reply), 0);
        cr_assert_eq(reply.status, 1 /* INVALID */);
        kt_err_is("remote.apply with a bad log id", reply.err.code, reply.err.field, "field.invalid", "log_id");
        koop_reply_clear(&reply);
    }
    for (int i = 0; i < 3; i++)
        free(ev[i].data);
    free(own);
}
