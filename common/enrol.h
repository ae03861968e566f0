/*
 * enrol - a hub's allow-list on disk: one public certificate per enrolled
 * node key in HUB_DIR/keys/enrolled/<hex of the key>.pub (CZMQ's text
 * format), with the metadata node-id (the node the key serves), role and
 * enrolled-at (unix ms). The hub's sync service rereads the directory
 * whenever it changes (services/sync/keys.c), so enrolment needs no restart.
 *
 * Written by `koopctl enrol` one key at a time and by the fleet simulator
 * (tools/fleet) in bulk; both through koop_enrol_write.
 */
#ifndef KOOP_ENROL_H
#define KOOP_ENROL_H

#include <stddef.h>
#include <stdint.h>

/* Enrols the 32-byte CURVE public key `pub` on the hub whose node directory
 * is hub_dir: makes keys/ and keys/enrolled/ (0700) when missing and writes
 * the certificate to a temporary name, then renames it into place, so the
 * hub never reads half a file. node and role may be NULL (no such
 * metadata). When path is not NULL it gets the file's path. Returns 0 or
 * -errno. */
int koop_enrol_write(const char *hub_dir, const uint8_t pub[32], const char *node, const char *role, char *path,
                     size_t path_size);

#endif
