/*
 * facts - the SHARED events of one gmina, generated the way its cases and
 * registry services write them: the same facts messages (proto/cases.proto,
 * proto/registry.proto), the same types, the same order within a case.
 *
 * Per IPW 17 events in the order a case runs (cases stream): opened, two
 * ZZK members added, activated, two goals added and later scaled (PSR),
 * three tasks added and later done (two of three after their due day), a
 * referral sent and accepted, closed (one in five without success). One
 * household in eight comes back for a second programme. Every `reg_every`
 * IPWs one registry event comes first (registry stream), in turn: a PZK of
 * 12 institutions (pzk.joined) and an institution of the gmina
 * (institution.created).
 *
 * Used by the fleet simulator (a gmina's day of events) and by the
 * reporting benchmark (ten years of one gmina). Ids are valid UUID text,
 * distinct per `unit` (a gmina) and per entity.
 */
#ifndef FLEET_FACTS_H
#define FLEET_FACTS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    /* what to make (fleet_facts_init) */
    uint32_t unit;          /* 0 .. 2^24-1: part of every id */
    char teryt[8];          /* the gmina's TERYT (PZK, institutions) */
    int32_t first_day;      /* days since 1970-01-01: IPWs open from here ... */
    uint32_t span_days;     /* ... over this many days */
    uint32_t reg_every;     /* IPWs per registry event */
    char owner[64];         /* the node that owns its registry records ("": none named) */
    /* the event just made (fleet_facts_next) */
    uint64_t n;             /* events made so far */
    uint8_t buf[4096];      /* its payload */
    size_t len;
    const char *stream;     /* "cases" or "registry" */
    const char *type;
    /* the case being written, one step at a time */
    uint64_t ipws;
    uint64_t regs;
    int step;
    char ipw[37], hh[37], goal[2][37], task[3][37], ref[37];
    int32_t opened;
    int outcome;
} fleet_facts_t;

/* Starts a generator. */
void fleet_facts_init(fleet_facts_t *g, uint32_t unit, const char *teryt, int32_t first_day, uint32_t span_days,
                      uint32_t reg_every);
/* Makes the next event into g->buf / len / stream / type. */
void fleet_facts_next(fleet_facts_t *g);

#endif
