/* Unit tests of services/sync/sessions.c: the hub's session table (by key
 * and by node id) under many sessions, reconnects, re-keying and removal. */
#include "../../services/sync/sync.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

TestSuite(sync_sessions);

/* A 40-character key and a node id for number i (distinct for distinct i). */
static void
s_key(char key[41], unsigned i)
{
    snprintf(key, 41, "k%039u", i);
}

static void
s_node(char node[32], unsigned i)
{
    snprintf(node, 32, "gmina-%07u", i);
}

static sync_session_t *
s_add(sync_sessions_t *t, unsigned i)
{
    char key[41], node[32];
    sync_session_t *s;
    s_key(key, i);
    s_node(node, i);
    s = sync_sessions_add(t, key);
    cr_assert_not_null(s);
    cr_assert_eq(sync_sessions_set_node(t, s, node), 0);
    return s;
}

static unsigned s_freed;

static void
s_count_free(sync_session_t *s)
{
    (void)s;
    s_freed++;
}

Test(sync_sessions, many_sessions_are_found_by_key_and_node)
{
    enum { N = 100000 };
    sync_sessions_t *t = sync_sessions_new();
    char key[41], node[32];
    cr_assert_not_null(t);
    for (unsigned i = 0; i < N; i++)
        s_add(t, i)->down_seq = i;
    cr_assert_eq(sync_sessions_count(t), N);
    for (unsigned i = 0; i < N; i++) {
        sync_session_t *s;
        s_key(key, i);
        s_node(node, i);
        s = sync_sessions_by_key(t, key);
        cr_assert_not_null(s, "session %u not found by key", i);
        cr_assert_eq(s->down_seq, i);
        cr_assert_eq(sync_sessions_by_node(t, node), s, "session %u not found by node", i);
    }
    s_key(key, N);
    s_node(node, N);
    cr_assert_null(sync_sessions_by_key(t, key));
    cr_assert_null(sync_sessions_by_node(t, node));
    cr_assert_null(sync_sessions_by_key(t, ""));
    cr_assert_null(sync_sessions_by_node(t, ""));
    /* iteration visits each exactly once */
    {
        unsigned char *seen = calloc(N, 1);
        for (size_t i = 0; i < sync_sessions_count(t); i++) {
            sync_session_t *s = sync_sessions_at(t, i);
            cr_assert_lt(s->down_seq, N);
            cr_assert_eq(seen[s->down_seq], 0);
            seen[s->down_seq] = 1;
        }
        cr_assert_null(sync_sessions_at(t, N));
        free(seen);
    }
    s_freed = 0;
    sync_sessions_destroy(&t, s_count_free);
    cr_assert_null(t);
    cr_assert_eq(s_freed, N);
    sync_sessions_destroy(&t, NULL); /* accepts NULL */
}

Test(sync_sessions, a_reconnect_finds_the_same_session)
{
    sync_sessions_t *t = sync_sessions_new();
    char key[41];
    sync_session_t *s = s_add(t, 7), *again;
    s->rid_len = 5;
    memcpy(s->rid, "conn1", 5);
    s_key(key, 7);
    again = sync_sessions_add(t, key);
    cr_assert_eq(again, s, "a second HELLO of the key made a second session");
    cr_assert_eq(again->rid_len, 5, "the session's state was lost");
    cr_assert_eq(sync_sessions_set_node(t, again, "gmina-0000007"), 0, "the same node again");
    cr_assert_eq(sync_sessions_count(t), 1);
    sync_sessions_destroy(&t, NULL);
}

Test(sync_sessions, a_node_id_has_one_session_and_rekeying_replaces_it)
{
    sync_sessions_t *t = sync_sessions_new();
    sync_session_t *old = s_add(t, 1), *fresh;
    char key[41];
    s_key(key, 2);
    fresh = sync_sessions_add(t, key);
    cr_assert_not_null(fresh);
    cr_assert_eq(sync_sessions_set_node(t, fresh, "gmina-0000001"), -EEXIST, "two sessions for one node");
    cr_assert_str_empty(fresh->node, "a refused binding changed the session");
    cr_assert_eq(sync_sessions_by_node(t, "gmina-0000001"), old);
    /* the node was re-keyed: the old key's session goes, the new one binds */
    s_freed = 0;
    sync_sessions_remove(t, old, s_count_free);
    cr_assert_eq(s_freed, 1);
    cr_assert_eq(sync_sessions_set_node(t, fresh, "gmina-0000001"), 0);
    cr_assert_eq(sync_sessions_by_node(t, "gmina-0000001"), fresh);
    s_key(key, 1);
    cr_assert_null(sync_sessions_by_key(t, key), "the old key still has a session");
    cr_assert_eq(sync_sessions_count(t), 1);
    /* unbinding and bad names */
    cr_assert_eq(sync_sessions_set_node(t, fresh, ""), 0);
    cr_assert_null(sync_sessions_by_node(t, "gmina-0000001"));
    {
        char longname[SYNC_MAX_NAME + 8];
        memset(longname, 'a', sizeof longname - 1);
        longname[sizeof longname - 1] = '\0';
        cr_assert_eq(sync_sessions_set_node(t, fresh, longname), -EINVAL);
        cr_assert_null(sync_sessions_add(t, longname), "a key longer than 40 characters was taken");
        cr_assert_null(sync_sessions_add(t, ""));
    }
    sync_sessions_destroy(&t, NULL);
}

Test(sync_sessions, removal_keeps_the_rest_findable_and_the_table_bounded)
{
    enum { N = 20000, ROUNDS = 30 };
    sync_sessions_t *t = sync_sessions_new();
    char key[41], node[32];
    for (unsigned i = 0; i < N; i++)
        s_add(t, i);
    /* every other one goes */
    for (unsigned i = 0; i < N; i += 2) {
        s_key(key, i);
        sync_sessions_remove(t, sync_sessions_by_key(t, key), NULL);
    }
    cr_assert_eq(sync_sessions_count(t), N / 2);
    for (unsigned i = 0; i < N; i++) {
        s_key(key, i);
        s_node(node, i);
        if (i % 2) {
            cr_assert_not_null(sync_sessions_by_key(t, key), "%u lost by a removal", i);
            cr_assert_not_null(sync_sessions_by_node(t, node));
        } else {
            cr_assert_null(sync_sessions_by_key(t, key), "%u still there after its removal", i);
            cr_assert_null(sync_sessions_by_node(t, node));
        }
    }
    /* positions stay consistent after the moves removal makes */
    for (size_t i = 0; i < sync_sessions_count(t); i++)
        cr_assert_eq(sync_sessions_at(t, i)->ss_index, i);
    /* churn: sessions come and go many times (reconnecting gminas); the
     * table keeps working and every lookup stays right */
    for (unsigned r = 0; r < ROUNDS; r++) {
        for (unsigned i = 0; i < N; i += 2)
            s_add(t, N * (r + 1) + i);
        for (unsigned i = 0; i < N; i += 2) {
            s_key(key, N * (r + 1) + i);
            sync_sessions_remove(t, sync_sessions_by_key(t, key), NULL);
        }
    }
    cr_assert_eq(sync_sessions_count(t), N / 2);
    for (unsigned i = 1; i < N; i += 2) {
        s_key(key, i);
        cr_assert_not_null(sync_sessions_by_key(t, key));
    }
    /* removing while walking down the list (as the hub's sweep does) */
    for (size_t i = sync_sessions_count(t); i > 0; i--)
        sync_sessions_remove(t, sync_sessions_at(t, i - 1), NULL);
    cr_assert_eq(sync_sessions_count(t), 0);
    s_key(key, 1);
    cr_assert_null(sync_sessions_by_key(t, key));
    sync_sessions_remove(t, NULL, NULL); /* accepts NULL */
    sync_sessions_destroy(&t, NULL);
}
