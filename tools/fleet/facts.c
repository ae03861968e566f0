/* facts.c - one gmina's SHARED events (see facts.h). */
#include "facts.h"
#include "events.h"
#include "cases.pb-c.h"
#include "registry.pb-c.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* An id: kind (4 bits) and unit (24 bits) in the first group, n in the last. */
static void
s_id(char out[37], unsigned kind, uint32_t unit, uint64_t n)
{
    snprintf(out, 37, "%08x-0000-7000-8000-%012llx", ((kind & 0xfu) << 24 | (unit & 0xffffffu)) & 0xfffffffu,
             (unsigned long long)(n & 0xffffffffffffull));
}

static void
s_date(int32_t day, char out[11])
{
    time_t t = (time_t)day * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 11, "%Y-%m-%d", &tm);
}

/* Packs m as the payload of an event of type id: its type string and
 * stream come from common/events.def, as the real producers' do. */
static void
s_pack(fleet_facts_t *g, const ProtobufCMessage *m, koop_ev_t id)
{
    const koop_event_type_t *t = koop_event_type_of(id);
    g->len = protobuf_c_message_pack(m, g->buf);
    g->stream = t->stream;
    g->type = t->type;
}

void
fleet_facts_init(fleet_facts_t *g, uint32_t unit, const char *teryt, int32_t first_day, uint32_t span_days,
                 uint32_t reg_every)
{
    memset(g, 0, sizeof *g);
    g->unit = unit;
    snprintf(g->teryt, sizeof g->teryt, "%s", teryt);
    g->first_day = first_day;
    g->span_days = span_days ? span_days : 1;
    g->reg_every = reg_every ? reg_every : 1;
}

/* A registry event of the gmina: a PZK of 12 institutions, or one institution. */
static void
s_registry(fleet_facts_t *g)
{
    char d1[11];
    uint64_t r = g->regs++;
    s_date(g->first_day + (int32_t)(r * 97 % g->span_days), d1);
    if (r % 2 == 0) {
        Koop__Reg__Pzk p = KOOP__REG__PZK__INIT;
        Koop__Reg__PzkMember m[12], *mp[12];
        char pid[37], inst[12][37];
        s_id(pid, 2, g->unit, r);
        for (int i = 0; i < 12; i++) {
            koop__reg__pzk_member__init(&m[i]);
            s_id(inst[i], 1, g->unit, (r * 5 + (uint64_t)i) % 400); /* shared across PZKs */
            m[i].institution = inst[i];
            m[i].joined = d1;
            mp[i] = &m[i];
        }
        p.id = pid;
        p.owner = g->owner[0] ? g->owner : NULL;
        p.formed = d1;
        p.teryt = g->teryt;
        p.n_members = 12;
        p.members = mp;
        s_pack(g, &p.base, KOOP_EV_PZK_JOINED);
    } else {
        Koop__Reg__Institution in = KOOP__REG__INSTITUTION__INIT;
        char id[37], name[64];
        s_id(id, 1, g->unit, 400 + r);
        snprintf(name, sizeof name, "Szkoła Podstawowa nr %llu", (unsigned long long)(r % 60 + 1));
        in.id = id;
        in.owner = g->owner[0] ? g->owner : NULL;
        in.name = name;
        in.has_sector = in.has_level = in.has_active = 1;
        in.sector = KOOP__REG__SECTOR__SECTOR_EDUCATION;
        in.level = KOOP__REG__LEVEL__LEVEL_GMINA;
        in.teryt = g->teryt;
        in.address = "ul. Szkolna 3, 07-100 Węgrów";
        in.active = 1;
        s_pack(g, &in.base, KOOP_EV_INSTITUTION_ADDED);
    }
}

void
fleet_facts_next(fleet_facts_t *g)
{
    char d1[11], d2[11];
    g->n++;
    if (g->step == 0 && g->ipws % g->reg_every == 0) {
        g->step = -1; /* the IPW comes next */
        s_registry(g);
        return;
    }
    if (g->step <= 0) {
        Koop__Cases__IpwFacts f = KOOP__CASES__IPW_FACTS__INIT;
        uint64_t k = g->ipws++;
        s_id(g->ipw, 3, g->unit, k);
        /* one household in 8 comes back for a second programme */
        s_id(g->hh, 4, g->unit, k % 8 == 7 ? k - 7 : k);
        for (int i = 0; i < 2; i++)
            s_id(g->goal[i], 5, g->unit, k * 2 + (uint64_t)i);
        for (int i = 0; i < 3; i++)
            s_id(g->task[i], 6, g->unit, k * 3 + (uint64_t)i);
        s_id(g->ref, 7, g->unit, k);
        g->opened = g->first_day + (int32_t)((k * 7919) % g->span_days);
        g->outcome = (int)(k % 5 == 4 ? KOOP__CASES__OUTCOME__OUTCOME_NO_SUCCESS : KOOP__CASES__OUTCOME__OUTCOME_SUCCESS);
        s_date(g->opened, d1);
        f.ipw = g->ipw;
        f.household = g->hh;
        f.opened = d1;
        f.date = d1;
        f.has_household_size = 1;
        f.household_size = 1 + (uint32_t)(k % 5);
        g->step = 1;
        s_pack(g, &f.base, KOOP_EV_IPW_OPENED);
        return;
    }
    switch (g->step++) {
    case 1:
    case 2: {
        Koop__Cases__MemberFacts f = KOOP__CASES__MEMBER_FACTS__INIT;
        char mid[37];
        s_id(mid, 9, g->unit, g->ipws * 2 + (uint64_t)g->step);
        s_date(g->opened, d1);
        f.ipw = g->ipw;
        f.member = mid;
        f.has_sector = 1;
        f.sector = (Koop__Reg__Sector)(1 + (g->ipws + (uint64_t)g->step) % 12);
        f.date = d1;
        s_pack(g, &f.base, KOOP_EV_IPW_MEMBER_ADDED);
        return;
    }
    case 3: {
        Koop__Cases__IpwFacts f = KOOP__CASES__IPW_FACTS__INIT;
        s_date(g->opened + 7, d1);
        f.ipw = g->ipw;
        f.household = g->hh;
        f.date = d1;
        s_pack(g, &f.base, KOOP_EV_IPW_ACTIVATED);
        return;
    }
    case 4:
    case 5:
    case 6:
    case 7: {
        Koop__Cases__GoalFacts f = KOOP__CASES__GOAL_FACTS__INIT;
        int i = (g->step - 5) % 2, scaled = g->step > 6;
        s_date(g->opened + (scaled ? 90 + 30 * i : 7), d1);
        f.goal = g->goal[i];
        f.ipw = g->ipw;
        f.has_area = f.has_baseline = 1;
        f.area = (Koop__Cases__Area)(1 + (g->ipws + (uint64_t)i) % 10);
        f.baseline = 3;
        f.has_value = scaled;
        f.value = 3 + (int)(g->ipws % 5);
        f.date = d1;
        s_pack(g, &f.base, scaled ? KOOP_EV_GOAL_SCALED : KOOP_EV_GOAL_ADDED);
        return;
    }
    case 8:
    case 9:
    case 10:
    case 11:
    case 12:
    case 13: {
        Koop__Cases__TaskFacts f = KOOP__CASES__TASK_FACTS__INIT;
        int i = (g->step - 9) % 3, done = g->step > 11;
        s_date(g->opened + 30 + 20 * i, d1);            /* due */
        s_date(g->opened + (done ? 25 + 27 * i : 8), d2); /* the step's day: two of three late */
        f.task = g->task[i];
        f.ipw = g->ipw;
        f.due = d1;
        f.date = d2;
        f.has_owner_sector = 1;
        f.owner_sector = (Koop__Reg__Sector)(1 + (g->ipws + (uint64_t)i) % 12);
        s_pack(g, &f.base, done ? KOOP_EV_TASK_DONE : KOOP_EV_TASK_ADDED);
        return;
    }
    case 14:
    case 15: {
        Koop__Cases__ReferralFacts f = KOOP__CASES__REFERRAL_FACTS__INIT;
        s_date(g->opened + (g->step == 15 ? 20 : 20 + (int32_t)(g->ipws % 14)), d1);
        f.referral = g->ref;
        f.ipw = g->ipw;
        f.date = d1;
        s_pack(g, &f.base, g->step == 15 ? KOOP_EV_REFERRAL_SENT : KOOP_EV_REFERRAL_ACCEPTED);
        return;
    }
    default: {
        Koop__Cases__IpwFacts f = KOOP__CASES__IPW_FACTS__INIT;
        s_date(g->opened + 300 + (int32_t)(g->ipws % 90), d1);
        f.ipw = g->ipw;
        f.household = g->hh;
        f.date = d1;
        f.has_outcome = 1;
        f.outcome = (Koop__Cases__Outcome)g->outcome;
        g->step = 0;
        s_pack(g, &f.base, KOOP_EV_IPW_CLOSED);
        return;
    }
    }
}
