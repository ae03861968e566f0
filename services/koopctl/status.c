/* status.c - `koopctl status`: does every service of the node answer? */
#include "koopctl.h"
#include "envelope.pb-c.h"
#include "client.h"

#include <stdio.h>
#include <string.h>

int
kc_status(kc_ctx_t *ctx, int argc, char **argv)
{
    const char *names[KOOP_MAX_SERVICES];
    json_t *out, *arr;
    int n, all_ok = 1, rc;

    if (argc > 0)
        return kc_error(ctx, KC_USAGE, CLI_ARGUMENT, NULL, argv[0]);
    if ((rc = kc_load_config(ctx)) != KC_OK)
        return rc;
    n = koop_config_services(&ctx->cfg, names);
    out = json_object();
    arr = json_array();
    json_object_set_new(out, "node", json_string(ctx->cfg.node_id));
    json_object_set_new(out, "role", json_string(ctx->cfg.role));
    for (int i = 0; i < n; i++) {
        koop_rpc_client_t *c = koop_rpc_client_new(koop_config_endpoint(&ctx->cfg, names[i]));
        koop_reply_t reply;
        json_t *svc = json_object();
        int ok = 0;
        json_object_set_new(svc, "name", json_string(names[i]));
        if (c && koop_rpc_call(c, NULL, "sys.ping", NULL, 2000, &reply) == 0) {
            Koop__Pong *p = reply.status == KOOP_OK ? koop__pong__unpack(NULL, reply.len, reply.payload) : NULL;
            if (p) {
                ok = 1;
                json_object_set_new(svc, "pid", json_integer(p->pid));
                json_object_set_new(svc, "last_seq", json_integer((json_int_t)p->last_seq));
                json_object_set_new(svc, "log_id", json_string(p->log_id ? p->log_id : ""));
                json_object_set_new(svc, "events_refused", json_integer((json_int_t)p->events_refused));
                koop__pong__free_unpacked(p, NULL);
            }
            koop_reply_clear(&reply);
        }
        koop_rpc_client_destroy(&c);
        json_object_set_new(svc, "ok", json_boolean(ok));
        json_array_append_new(arr, svc);
        all_ok &= ok;
    }
    json_object_set_new(out, "ok", json_boolean(all_ok));
    json_object_set_new(out, "services", arr);
    if (ctx->json) {
        kc_print(ctx, out);
    } else {
        printf("węzeł %s (%s): %s\n", ctx->cfg.node_id, ctx->cfg.role,
               all_ok ? "wszystkie usługi działają" : "NIE WSZYSTKIE USŁUGI ODPOWIADAJĄ");
        for (size_t i = 0; i < json_array_size(arr); i++) {
            json_t *s = json_array_get(arr, i);
            long long refused = (long long)json_integer_value(json_object_get(s, "events_refused"));
            char extra[80] = "";
            if (refused)
                snprintf(extra, sizeof extra, ", odrzuconych zdarzeń z zewnątrz: %lld", refused);
            if (json_is_true(json_object_get(s, "ok")))
                printf("  %-10s działa (pid %lld, zdarzeń w dzienniku: %lld%s)\n",
                       json_string_value(json_object_get(s, "name")),
                       (long long)json_integer_value(json_object_get(s, "pid")),
                       (long long)json_integer_value(json_object_get(s, "last_seq")), extra);
            else
                printf("  %-10s nie odpowiada\n", json_string_value(json_object_get(s, "name")));
        }
    }
    json_decref(out);
    return all_ok ? KC_OK : KC_UNAVAILABLE;
}
