/* wire.c - frames on the uplink connection, names and stored positions. */
#include "sync.h"
#include "store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

int
sync_valid_name(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > SYNC_MAX_NAME)
        return 0;
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") == n;
}

int
sync_valid_stream(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > SYNC_MAX_STREAM)
        return 0;
    return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

int
sync_frame_pack(const Koop__Sync__Frame *frame, uint8_t **out, size_t *len)
{
    size_t n = koop__sync__frame__get_packed_size(frame);
    *out = NULL;
    *len = 0;
    if (n > KOOP_MAX_MSG)
        return -E2BIG;
    *out = malloc(n ? n : 1);
    if (!*out)
        return -ENOMEM;
    *len = koop__sync__frame__pack(frame, *out);
    return 0;
}

int
sync_frame_send(void *sock, const void *rid, size_t rid_len, const Koop__Sync__Frame *frame)
{
    uint8_t *buf;
    size_t len;
    int rc = sync_frame_pack(frame, &buf, &len);
    if (rc != 0)
        return rc;
    if (rid && zmq_send(sock, rid, rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        rc = -errno;
        goto done;
    }
    if (zmq_send(sock, buf, len, ZMQ_DONTWAIT) < 0)
        rc = -errno;
done:
    free(buf);
    return rc;
}

int
sync_link_sockopts(void *sock)
{
    int64_t max = KOOP_MAX_MSG;
    int linger = 0, hb_ivl = SYNC_HEARTBEAT_MS, hb_timeout = SYNC_DEAD_MS, hb_ttl = SYNC_DEAD_MS;
    int hwm = 10000;
    if (zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &max, sizeof max) != 0 ||
        zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_setsockopt(sock, ZMQ_HEARTBEAT_IVL, &hb_ivl, sizeof hb_ivl) != 0 ||
        zmq_setsockopt(sock, ZMQ_HEARTBEAT_TIMEOUT, &hb_timeout, sizeof hb_timeout) != 0 ||
        zmq_setsockopt(sock, ZMQ_HEARTBEAT_TTL, &hb_ttl, sizeof hb_ttl) != 0 ||
        zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof hwm) != 0 ||
        zmq_setsockopt(sock, ZMQ_RCVHWM, &hwm, sizeof hwm) != 0)
        return -errno;
    return 0;
}

int
sync_pos_decode(const MDB_val *v, uint64_t *seq, char *log_id, size_t log_id_size)
{
    if (v->mv_size < 8 || v->mv_size - 8 >= log_id_size)
        return MDB_CORRUPTED;
    *seq = koop_be64_get(v->mv_data);
    memcpy(log_id, (const char *)v->mv_data + 8, v->mv_size - 8);
    log_id[v->mv_size - 8] = '\0';
    return 0;
}

int
sync_pos_put(MDB_txn *txn, MDB_dbi dbi, const char *key, uint64_t seq, const char *log_id)
{
    unsigned char val[8 + SYNC_MAX_NAME + 1];
    size_t n = log_id ? strlen(log_id) : 0;
    if (n > SYNC_MAX_NAME)
        return EINVAL;
    koop_be64_put(val, seq);
    memcpy(val + 8, log_id ? log_id : "", n);
    return koop_store_put_str(txn, dbi, key, val, 8 + n);
}
