/*
 * sessions.c - the hub's sessions, found by key or by node id in O(1).
 *
 * A hub holds one session per enrolled key that has said HELLO (docs/SYNC.md):
 * a powiat hub tens, a flat hub of a whole voivodeship thousands. Every
 * message the hub receives names its sender by key (ZAP User-Id), and every
 * HELLO asks whether another key holds the same node, so both lookups are
 * hash lookups, never a scan.
 *
 *   list     sessions in no particular order (iteration: sync_sessions_at);
 *            a removal moves the last one into the hole
 *   by key   open addressing, linear probing, power-of-two capacity, load
 *            <= 1/2 counting removed slots (tombstones), rebuilt when it
 *            would pass that
 *   by node  the same over the node ids (each node id at most once)
 *
 * Invariant: a session is in the list and the key index exactly while it
 * exists; it is in the node index exactly while its node id is not empty.
 * Sessions are allocated one by one, so a pointer stays valid until that
 * session is removed.
 */
#include "sync.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define INDEX_MIN 64

typedef struct {
    sync_session_t **slots;
    size_t cap;    /* 0 or a power of two */
    size_t live;   /* entries */
    size_t used;   /* entries + tombstones */
    size_t field;  /* offsetof(sync_session_t, key or node) */
} s_index;

struct sync_sessions {
    sync_session_t **list;
    size_t n, cap;
    s_index by_key, by_node;
};

/* the mark of a removed slot: probing goes on past it */
static sync_session_t s_tombstone;
#define TOMB (&s_tombstone)

static const char *
s_name(const s_index *ix, const sync_session_t *s)
{
    return (const char *)s + ix->field;
}

/* FNV-1a: keys are random Z85 text, node ids short names; both spread well */
static size_t
s_hash(const char *str)
{
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *)str; *p; p++) {
        h ^= *p;
        h *= 1099511628211ull;
    }
    return (size_t)(h ^ (h >> 32));
}

static sync_session_t *
s_index_find(const s_index *ix, const char *name)
{
    if (ix->cap == 0 || !name || !*name)
        return NULL;
    for (size_t i = s_hash(name) & (ix->cap - 1);; i = (i + 1) & (ix->cap - 1)) {
        sync_session_t *s = ix->slots[i];
        if (!s)
            return NULL;
        if (s != TOMB && strcmp(s_name(ix, s), name) == 0)
            return s;
    }
}

/* Places s in a table known to have room and not to hold its name. */
static void
s_index_place(sync_session_t **slots, size_t cap, const char *name, sync_session_t *s)
{
    size_t i = s_hash(name) & (cap - 1);
    while (slots[i] && slots[i] != TOMB)
        i = (i + 1) & (cap - 1);
    slots[i] = s;
}

/* Rebuilds the table with room for one more entry, dropping tombstones. */
static int
s_index_rebuild(s_index *ix)
{
    size_t cap = INDEX_MIN;
    sync_session_t **slots;
    while (cap < 4 * (ix->live + 1))
        cap *= 2;
    slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -ENOMEM;
    for (size_t i = 0; i < ix->cap; i++)
        if (ix->slots[i] && ix->slots[i] != TOMB)
            s_index_place(slots, cap, s_name(ix, ix->slots[i]), ix->slots[i]);
    free(ix->slots);
    ix->slots = slots;
    ix->cap = cap;
    ix->used = ix->live;
    return 0;
}

/* Makes room for one more entry. 0 or -ENOMEM (the index unchanged). */
static int
s_index_reserve(s_index *ix)
{
    return 2 * (ix->used + 1) > ix->cap ? s_index_rebuild(ix) : 0;
}

/* Adds s under its name (which must not be in the index) after a successful
 * s_index_reserve. */
static void
s_index_add(s_index *ix, sync_session_t *s)
{
    s_index_place(ix->slots, ix->cap, s_name(ix, s), s);
    ix->used++;
    ix->live++;
}

static void
s_index_del(s_index *ix, const sync_session_t *s)
{
    const char *name = s_name(ix, s);
    if (ix->cap == 0 || !*name)
        return;
    for (size_t i = s_hash(name) & (ix->cap - 1); ix->slots[i]; i = (i + 1) & (ix->cap - 1))
        if (ix->slots[i] == s) {
            ix->slots[i] = TOMB; /* used stays: the tombstone counts until a rebuild */
            ix->live--;
            return;
        }
}

sync_sessions_t *
sync_sessions_new(void)
{
    sync_sessions_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->by_key.field = offsetof(sync_session_t, key);
    self->by_node.field = offsetof(sync_session_t, node);
    return self;
}

void
sync_sessions_destroy(sync_sessions_t **self_p, void (*on_free)(sync_session_t *))
{
    sync_sessions_t *self;
    if (!self_p || !*self_p)
        return;
    self = *self_p;
    for (size_t i = 0; i < self->n; i++) {
        if (on_free)
            on_free(self->list[i]);
        free(self->list[i]);
    }
    free(self->list);
    free(self->by_key.slots);
    free(self->by_node.slots);
    free(self);
    *self_p = NULL;
}

sync_session_t *
sync_sessions_by_key(const sync_sessions_t *self, const char *key)
{
    return s_index_find(&self->by_key, key);
}

sync_session_t *
sync_sessions_by_node(const sync_sessions_t *self, const char *node)
{
    return s_index_find(&self->by_node, node);
}

sync_session_t *
sync_sessions_add(sync_sessions_t *self, const char *key)
{
    sync_session_t *s;
    if (!key || !*key || strlen(key) >= sizeof s->key) {
        errno = EINVAL;
        return NULL;
    }
    if ((s = s_index_find(&self->by_key, key)) != NULL)
        return s;
    if (self->n == self->cap) {
        size_t ncap = self->cap ? self->cap * 2 : 64;
        sync_session_t **g = realloc(self->list, ncap * sizeof *g);
        if (!g)
            return NULL;
        self->list = g;
        self->cap = ncap;
    }
    if (s_index_reserve(&self->by_key) != 0)
        return NULL;
    s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    strcpy(s->key, key);
    s_index_add(&self->by_key, s);
    s->ss_index = self->n;
    self->list[self->n++] = s;
    return s;
}

int
sync_sessions_set_node(sync_sessions_t *self, sync_session_t *s, const char *node)
{
    if (!node || strlen(node) >= sizeof s->node)
        return -EINVAL;
    if (strcmp(s->node, node) == 0)
        return 0;
    if (s_index_find(&self->by_node, node))
        return -EEXIST;
    /* room first: a failure leaves s as it was */
    if (*node && s_index_reserve(&self->by_node) != 0)
        return -ENOMEM;
    s_index_del(&self->by_node, s);
    strcpy(s->node, node);
    if (*node)
        s_index_add(&self->by_node, s);
    return 0;
}

void
sync_sessions_remove(sync_sessions_t *self, sync_session_t *s, void (*on_free)(sync_session_t *))
{
    size_t i;
    if (!s)
        return;
    i = s->ss_index;
    s_index_del(&self->by_key, s);
    s_index_del(&self->by_node, s);
    self->list[i] = self->list[--self->n];
    self->list[i]->ss_index = i;
    if (on_free)
        on_free(s);
    free(s);
}

size_t
sync_sessions_count(const sync_sessions_t *self)
{
    return self->n;
}

sync_session_t *
sync_sessions_at(const sync_sessions_t *self, size_t i)
{
    return i < self->n ? self->list[i] : NULL;
}
