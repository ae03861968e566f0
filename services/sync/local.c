/*
 * local.c - one request at a time to one of the node's own services, on
 * the loop (the uplink's feed readers, its registry calls, the hub's down
 * reader), over the process's client (common/client.h).
 *
 *   IDLE --call--> WAITING --reply--> IDLE (cb)
 *                  WAITING --timeout--> IDLE (cb with -ETIMEDOUT)
 *
 * The client matches replies by request id, so a late reply is never taken
 * for the next request's.
 */
#include "sync.h"
#include "client.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct sync_local {
    koop_client_t *client;
    char endpoint[KOOP_CONF_STR];
    uint64_t call_id;
    int busy;
    sync_local_cb cb;
    void *ctx;
};

static void
s_on_reply(void *ctx, const koop_reply_t *reply)
{
    sync_local_t *self = ctx;
    sync_local_cb cb = self->cb;
    void *cb_ctx = self->ctx;
    char error[300] = "";
    int status = reply->status;

    self->busy = 0;
    self->cb = NULL;
    if (status != KOOP_OK) {
        koop_error_render(&reply->err, KOOP_LANG_PL, NULL, error, sizeof error);
        if (reply->err.id == KOOP_ERR_CLIENT_TIMEOUT)
            status = -ETIMEDOUT;
    }
    if (cb)
        cb(cb_ctx, status, error[0] ? error : NULL, reply->payload, reply->len);
}

sync_local_t *
sync_local_new(koop_client_t *client, const char *endpoint)
{
    sync_local_t *self;
    if (!endpoint || strlen(endpoint) >= KOOP_CONF_STR)
        return NULL;
    self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->client = client;
    strcpy(self->endpoint, endpoint);
    return self;
}

void
sync_local_destroy(sync_local_t **self_p)
{
    sync_local_t *self;
    if (!self_p || !*self_p)
        return;
    self = *self_p;
    if (self->busy)
        (void)koop_client_cancel(self->client, self->call_id);
    free(self);
    *self_p = NULL;
}

int
sync_local_busy(const sync_local_t *self)
{
    return self->busy;
}

int
sync_local_call(sync_local_t *self, const char *method, const ProtobufCMessage *req, uint32_t timeout_ms,
                sync_local_cb cb, void *ctx)
{
    int rc;
    if (self->busy)
        return -EBUSY;
    self->cb = cb;
    self->ctx = ctx;
    self->busy = 1;
    rc = koop_client_call(self->client, self->endpoint, NULL, method, req, timeout_ms, s_on_reply, self,
                          &self->call_id);
    if (rc != 0) {
        self->busy = 0;
        self->cb = NULL;
    }
    return rc;
}
