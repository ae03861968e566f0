/*
 * id - globally unique record and event ids (UUIDv7: 48-bit unix ms time,
 * then random bits), so records from many gminas meet at a hub without
 * renumbering, and ids sort by creation time.
 */
#ifndef KOOP_ID_H
#define KOOP_ID_H

#include "koop.h"

/* Writes a new id ("0190f1c2-...") into out[KOOP_ID_LEN]. Returns 0 or -errno. */
int koop_id_new(char out[KOOP_ID_LEN]);

/* 1 when s looks like an id koop_id_new makes (36 chars, hex and dashes). */
int koop_id_valid(const char *s);

#endif
