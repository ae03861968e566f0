/*
 * check.c - the hub's check of every event a node sends up (docs/SYNC.md,
 * "What the hub checks"), made for each event of a batch before anything
 * of that batch is stored.
 *
 * The event is decoded in full by the same generated code every consumer
 * uses: the envelope (koop.Event), then its payload as the message of its
 * type in common/events.def, and for a hub's merged stream (sync.event) the
 * envelope it carries, down to the gmina's. Whatever protobuf-c would not
 * read (a field of the wrong wire type, an overlong varint, a tag past the
 * field-number range, a length past the end) is refused here, so no
 * consumer above ever meets it.
 *
 * Decoding allocates from the checker's arena (one block reused for every
 * event, reset before each; a bigger event takes what more it needs from
 * malloc until the next reset), so the check costs the unpacking itself
 * and no malloc/free per field: the hub's ingest stays as cheap as a full
 * decode can be (bench: `make bench-sync`, "hub's check of one event").
 */
#include "sync.h"
#include "events.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_BLOCK (64 * 1024)
#define ALIGN 16

struct sync_check {
    ProtobufCAllocator alloc;
    uint8_t *block;
    size_t used;
    void **big;                /* allocations past the block, freed at reset */
    size_t nbig, capbig;
    int oom;                   /* an allocation failed since the reset */
};

static void *
s_alloc(void *data, size_t size)
{
    sync_check_t *c = data;
    size_t need = (size + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    void *p;
    if (need >= size && need <= ARENA_BLOCK - c->used) {
        p = c->block + c->used;
        c->used += need;
        return p;
    }
    if (c->nbig == c->capbig) {
        size_t ncap = c->capbig ? c->capbig * 2 : 16;
        void **g = realloc(c->big, ncap * sizeof *g);
        if (!g) {
            c->oom = 1;
            return NULL;
        }
        c->big = g;
        c->capbig = ncap;
    }
    if (!(p = malloc(size ? size : 1))) {
        c->oom = 1;
        return NULL;
    }
    c->big[c->nbig++] = p;
    return p;
}

static void
s_free(void *data, void *p)
{
    (void)data; /* everything goes at the next reset */
    (void)p;
}

static void
s_reset(sync_check_t *c)
{
    for (size_t i = 0; i < c->nbig; i++)
        free(c->big[i]);
    c->nbig = 0;
    c->used = 0;
    c->oom = 0;
}

sync_check_t *
sync_check_new(void)
{
    sync_check_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->block = malloc(ARENA_BLOCK);
    if (!c->block) {
        free(c);
        return NULL;
    }
    c->alloc.alloc = s_alloc;
    c->alloc.free = s_free;
    c->alloc.allocator_data = c;
    return c;
}

void
sync_check_destroy(sync_check_t **self_p)
{
    sync_check_t *c;
    if (!self_p || !*self_p)
        return;
    c = *self_p;
    s_reset(c);
    free(c->big);
    free(c->block);
    free(c);
    *self_p = NULL;
}

/* ---- refusals ---- */

static void
s_why(sync_check_why_t *why, koop_err_t err, uint64_t seq, const char *stream, ...)
{
    va_list ap;
    const char *a;
    why->err = err;
    why->seq = seq;
    why->nargs = 0;
    snprintf(why->args[why->nargs++], sizeof why->args[0], "%llu", (unsigned long long)seq);
    snprintf(why->args[why->nargs++], sizeof why->args[0], "%s", stream);
    va_start(ap, stream);
    while (why->nargs < SYNC_CHECK_ARGS && (a = va_arg(ap, const char *)) != NULL) {
        /* names from the event are shown as far as they are printable */
        size_t n = 0;
        for (; a[n] && n < sizeof why->args[0] - 1; n++)
            why->args[why->nargs][n] = (unsigned char)a[n] < 0x20 || a[n] == 0x7f ? '?' : a[n];
        why->args[why->nargs++][n] = '\0';
    }
    va_end(ap);
}

/* ---- the check ---- */

/* One envelope at depth (0: what `node` sent in `stream` as `seq`; below:
 * the envelope a sync.event of the level above carries, written by a node
 * below `node`). A refusal names the event of the batch (at, in), whatever
 * the depth. */
static int
s_check(sync_check_t *c, const char *self, const uint8_t *buf, size_t len, const char *node, const char *stream,
        uint64_t seq, int depth, uint64_t at, const char *in, sync_check_why_t *why)
{
    const koop_event_type_t *t;
    ProtobufCMessage *payload;
    Koop__Event *ev = koop__event__unpack(&c->alloc, len, buf);
    int has_owner;
    const char *owner;

    if (!ev)
        goto undecodable;
    if (depth == 0) {
        if (!ev->node || strcmp(ev->node, node) != 0 || !ev->stream || strcmp(ev->stream, stream) != 0 ||
            !ev->has_seq || ev->seq != seq) {
            char head[SYNC_CHECK_ARG];
            snprintf(head, sizeof head, "%.63s/%.32s/%llu", ev->node ? ev->node : "-",
                     ev->stream ? ev->stream : "-", (unsigned long long)ev->seq);
            s_why(why, KOOP_ERR_SYNC_EVENT_HEAD, at, in, head, NULL);
            return 1;
        }
    } else if (!sync_valid_name(ev->node) || strcmp(ev->node, self) == 0 || strcmp(ev->node, node) == 0 ||
               !ev->has_seq || ev->seq == 0) {
        /* a hub's stream carries the events of nodes below it: never its
         * own, never this hub's */
        s_why(why, KOOP_ERR_SYNC_EVENT_INNER, at, in, ev->node && sync_valid_name(ev->node) ? ev->node : "?", node,
              NULL);
        return 1;
    }
    if (!ev->has_scope || ev->scope != KOOP__SCOPE__SCOPE_SHARED) {
        s_why(why, KOOP_ERR_SYNC_EVENT_LOCAL, at, in, NULL);
        return 1;
    }
    if (!(t = koop_event_type(ev->type))) {
        s_why(why, KOOP_ERR_SYNC_EVENT_TYPE, at, in, ev->type ? ev->type : "", NULL);
        return 1;
    }
    if (t->scope != KOOP__SCOPE__SCOPE_SHARED || !ev->stream || strcmp(ev->stream, t->stream) != 0) {
        s_why(why, KOOP_ERR_SYNC_EVENT_TYPE_STREAM, at, in, t->type, t->stream, NULL);
        return 1;
    }
    payload = protobuf_c_message_unpack(t->payload, &c->alloc, ev->payload.len, ev->payload.data);
    if (!payload) {
        if (c->oom)
            return -ENOMEM;
        s_why(why, KOOP_ERR_SYNC_EVENT_PAYLOAD, at, in, t->type, t->payload->name, NULL);
        return 1;
    }
    owner = koop_event_owner(t, payload, &has_owner);
    if (has_owner && (!owner || strcmp(owner, ev->node) != 0)) {
        s_why(why, KOOP_ERR_SYNC_EVENT_OWNER, at, in, t->type, owner && *owner ? owner : "-", ev->node, NULL);
        return 1;
    }
    if (t->payload == &koop__event__descriptor) {
        /* a hub's merged stream: the envelope of a node below, as received */
        if (depth + 1 >= SYNC_CHECK_DEPTH) {
            s_why(why, KOOP_ERR_SYNC_EVENT_INNER, at, in, "?", ev->node, NULL);
            return 1;
        }
        return s_check(c, self, ev->payload.data, ev->payload.len, ev->node, NULL, 0, depth + 1, at, in, why);
    }
    return 0;
undecodable:
    if (c->oom)
        return -ENOMEM;
    s_why(why, KOOP_ERR_SYNC_EVENT_ENVELOPE, at, in, NULL);
    return 1;
}

int
sync_check_event(sync_check_t *c, const char *self, const uint8_t *buf, size_t len, const char *node,
                 const char *stream, uint64_t seq, sync_check_why_t *why)
{
    int rc;
    memset(why, 0, sizeof *why);
    s_reset(c);
    rc = s_check(c, self, buf, len, node, stream, seq, 0, seq, stream, why);
    s_reset(c);
    return rc;
}
