/* Unit tests of services/sync/wire.c: the limits an uplink takes from its
 * hub's WELCOME (sync_link_limits). */
#include "../../services/sync/sync.h"

#include <criterion/criterion.h>
#include <stdint.h>

TestSuite(sync_wire);

/* A WELCOME advertising window and batch_max (has: whether it says them). */
static Koop__Sync__Welcome
s_welcome(int has, uint32_t window, uint32_t batch_max)
{
    Koop__Sync__Welcome w = KOOP__SYNC__WELCOME__INIT;
    w.has_window = w.has_batch_max = has;
    w.window = window;
    w.batch_max = batch_max;
    return w;
}

static void
s_expect(const Koop__Sync__Welcome *w, int clamped, uint32_t window, uint32_t batch_max)
{
    sync_limits_t l = {0, 0};
    cr_assert_eq(sync_link_limits(w, &l), clamped, "window %u batch %u: clamped", w ? w->window : 0,
                 w ? w->batch_max : 0);
    cr_assert_eq(l.window, window, "window %u, want %u", l.window, window);
    cr_assert_eq(l.batch_max, batch_max, "batch %u, want %u", l.batch_max, batch_max);
}

Test(sync_wire, the_lower_of_ours_and_the_hubs_is_used)
{
    Koop__Sync__Welcome w = s_welcome(1, 500, 50);
    s_expect(&w, 0, 500, 50);
    w = s_welcome(1, SYNC_WINDOW, SYNC_BATCH_MAX); /* a hub like us */
    s_expect(&w, 0, SYNC_WINDOW, SYNC_BATCH_MAX);
    w = s_welcome(1, 5, 2);
    s_expect(&w, 0, 5, 2);
    w = s_welcome(1, 1, 1);
    s_expect(&w, 0, 1, 1);
}

Test(sync_wire, a_hub_saying_nothing_leaves_ours)
{
    Koop__Sync__Welcome w = s_welcome(0, 0, 0);
    s_expect(NULL, 0, SYNC_WINDOW, SYNC_BATCH_MAX);
    s_expect(&w, 0, SYNC_WINDOW, SYNC_BATCH_MAX);
}

Test(sync_wire, zero_would_stall_and_huge_would_blow_memory_so_both_are_clamped)
{
    Koop__Sync__Welcome w = s_welcome(1, 0, 0);
    s_expect(&w, 1, 1, 1);
    w = s_welcome(1, UINT32_MAX, UINT32_MAX);
    s_expect(&w, 1, SYNC_WINDOW, SYNC_BATCH_MAX);
    w = s_welcome(1, 100, 0);
    s_expect(&w, 1, 100, 1);
    w = s_welcome(1, 0, 100); /* a batch is never larger than the window */
    s_expect(&w, 1, 1, 1);
}

Test(sync_wire, a_batch_larger_than_the_window_is_cut_to_it)
{
    Koop__Sync__Welcome w = s_welcome(1, 300, 1000);
    s_expect(&w, 0, 300, 300);
}
