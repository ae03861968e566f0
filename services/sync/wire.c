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

/* One limit: ours, or the hub's when it is lower; *clamped when the
 * hub's was outside 1..ours. */
static uint32_t
s_limit(int has, uint32_t hub, uint32_t ours, int *clamped)
{
    if (!has)
        return ours;
    if (hub == 0 || hub > ours)
        *clamped = 1;
    return hub == 0 ? 1 : hub < ours ? hub : ours;
}

int
sync_link_limits(const Koop__Sync__Welcome *w, sync_limits_t *out)
{
    int clamped = 0;
    out->window = s_limit(w && w->has_window, w ? w->window : 0, SYNC_WINDOW, &clamped);
    out->batch_max = s_limit(w && w->has_batch_max, w ? w->batch_max : 0, SYNC_BATCH_MAX, &clamped);
    if (out->batch_max > out->window)
        out->batch_max = out->window; /* a batch larger than the window would never go */
    return clamped;
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
sync_frame_send_bytes(void *sock, const void *rid, size_t rid_len, const uint8_t *buf, size_t len)
{
    if (rid && zmq_send(sock, rid, rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return -errno;
    return zmq_send(sock, buf, len, ZMQ_DONTWAIT) < 0 ? -errno : 0;
}

int
sync_frame_send(void *sock, const void *rid, size_t rid_len, const Koop__Sync__Frame *frame)
{
    uint8_t *buf;
    size_t len;
    int rc = sync_frame_pack(frame, &buf, &len);
    if (rc != 0)
        return rc;
    rc = sync_frame_send_bytes(sock, rid, rid_len, buf, len);
    free(buf);
    return rc;
}

/* Liveness on the link is the protocol's own Ping/Pong (SYNC_HEARTBEAT_MS,
 * SYNC_DEAD_MS), not ZMTP heartbeats: libzmq 4.3 cancels a connection's
 * heartbeat timers (ZMQ_HEARTBEAT_TIMEOUT, and the TTL a peer asks for) on
 * every message it receives with a linear walk over all timers of its I/O
 * thread, so at 2,500 gminas on one hub that walk alone kept the hub's I/O
 * thread busy (bench-scale; perf: std::_Rb_tree_increment in ZMQbg/IO).
 * A connection whose peer vanished without closing it is found by TCP
 * keepalive instead: probes after 60 s of silence, closed after 3 more
 * unanswered (kernel timers, nothing per message). */
int
sync_link_sockopts(void *sock)
{
    int64_t max = KOOP_MAX_MSG;
    int linger = 0, keepalive = 1, ka_idle = 60, ka_intvl = 10, ka_cnt = 3;
    int hwm = 10000;
    if (zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &max, sizeof max) != 0 ||
        zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_setsockopt(sock, ZMQ_TCP_KEEPALIVE, &keepalive, sizeof keepalive) != 0 ||
        zmq_setsockopt(sock, ZMQ_TCP_KEEPALIVE_IDLE, &ka_idle, sizeof ka_idle) != 0 ||
        zmq_setsockopt(sock, ZMQ_TCP_KEEPALIVE_INTVL, &ka_intvl, sizeof ka_intvl) != 0 ||
        zmq_setsockopt(sock, ZMQ_TCP_KEEPALIVE_CNT, &ka_cnt, sizeof ka_cnt) != 0 ||
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

/* ---- a koop.Event's head, read in place ---- */

static int
s_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*p >= end)
            return -1;
        uint8_t b = *(*p)++;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

int
sync_event_head(const uint8_t *buf, size_t len, sync_event_head_t *out)
{
    const uint8_t *p = buf, *end = buf + len;
    memset(out, 0, sizeof *out);
    out->scope = -1;
    while (p < end) {
        uint64_t tag, v;
        unsigned field, wire;
        if (s_varint(&p, end, &tag) != 0)
            return -EBADMSG;
        field = (unsigned)(tag >> 3);
        wire = (unsigned)(tag & 7);
        if (field == 0)
            return -EBADMSG;
        switch (wire) {
        case 0: /* varint */
            if (s_varint(&p, end, &v) != 0)
                return -EBADMSG;
            if (field == 3) {
                out->seq = v;
                out->has_seq = 1;
            } else if (field == 7) {
                out->scope = v > 1 ? 2 : (int)v;
            } else if (field == 1 || field == 2) {
                return -EBADMSG;
            }
            break;
        case 2: /* length-delimited */
            if (s_varint(&p, end, &v) != 0 || v > (uint64_t)(end - p))
                return -EBADMSG;
            if (field == 1) {
                out->node = (const char *)p;
                out->node_len = (size_t)v;
            } else if (field == 2) {
                out->stream = (const char *)p;
                out->stream_len = (size_t)v;
            } else if (field == 3 || field == 7) {
                return -EBADMSG;
            }
            p += v;
            break;
        case 1: /* 64-bit */
            if (end - p < 8 || field == 1 || field == 2 || field == 3 || field == 7)
                return -EBADMSG;
            p += 8;
            break;
        case 5: /* 32-bit */
            if (end - p < 4 || field == 1 || field == 2 || field == 3 || field == 7)
                return -EBADMSG;
            p += 4;
            break;
        default: /* groups are not in proto files here */
            return -EBADMSG;
        }
    }
    return 0;
}
