/*
 * pbm_proto.c - firmware side of the pbm-hil protocol v1 (see pbm_proto.h, docs/protocol.md).
 *
 * Portable C99 except pbm_serve_stdio() at the end (POSIX read/write), which -DPBM_NO_POSIX
 * leaves out for a bare-metal build.
 */
#include "pbm_proto.h"

#include <string.h>

/* ---- CRC-16/CCITT-FALSE ------------------------------------------------------------------ */

uint16_t pbm_crc16_update(uint16_t crc, const uint8_t *p, size_t n)
{
    while (n--) {
        int i;
        crc ^= (uint16_t)((uint16_t)(*p++) << 8);
        for (i = 0; i < 8; i++)
            crc = (crc & 0x8000u) ? (uint16_t)((crc << 1) ^ 0x1021u) : (uint16_t)(crc << 1);
    }
    return crc;
}

uint16_t pbm_crc16(const uint8_t *p, size_t n)
{
    return pbm_crc16_update(0xFFFFu, p, n);
}

/* ---- Little-endian helpers --------------------------------------------------------------- */

static uint16_t get_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static void put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)(v >> 8);
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)((v >> 8) & 0xFFu);
    p[2] = (uint8_t)((v >> 16) & 0xFFu);
    p[3] = (uint8_t)(v >> 24);
}

/* ---- Decoder ----------------------------------------------------------------------------- */

enum { ST_HUNT, ST_TYPE, ST_SEQ, ST_LEN0, ST_LEN1, ST_PAYLOAD, ST_CRC0, ST_CRC1 };

void pbm_decoder_init(pbm_decoder *d)
{
    memset(d, 0, sizeof *d);
    d->state = ST_HUNT;
}

/* Payload length range of a request type the firmware accepts; 0 for any other type. */
static int request_len_range(uint8_t type, uint16_t *lo, uint16_t *hi)
{
    switch (type) {
    case PBM_HELLO: *lo = 2; *hi = 2; return 1;
    case PBM_BOOT: *lo = PBM_NVM_SIZE; *hi = PBM_NVM_SIZE; return 1;
    case PBM_STEP: *lo = PBM_STEP_LEN; *hi = PBM_STEP_LEN; return 1;
    case PBM_POWER_OFF:
    case PBM_SHUTDOWN: *lo = 0; *hi = 0; return 1;
    case PBM_ERROR: *lo = 1; *hi = 1 + PBM_MAX_MESSAGE_LEN; return 1;
    default: return 0;
    }
}

static int bad(pbm_decoder *d, uint8_t seq, const char *msg)
{
    d->err_seq = seq;
    d->err_msg = msg;
    d->state = ST_HUNT;
    return PBM_FEED_BAD;
}

/* Check the payload's fields and unpack it into `out`. */
static int parse_payload(pbm_decoder *d, pbm_request *out)
{
    const uint8_t *p = d->payload;
    int i;
    memset(out, 0, sizeof *out);
    out->type = d->type;
    out->seq = d->seq;
    switch (d->type) {
    case PBM_HELLO:
        if (p[1] > PBM_CLASS_LASER_PROBE)
            return bad(d, d->seq, "hello: device class out of range 0..=5");
        out->u.hello.protocol_version = p[0];
        out->u.hello.class_code = p[1];
        break;
    case PBM_BOOT:
        out->u.boot_nvm = p;
        break;
    case PBM_STEP: {
        pbm_input *in = &out->u.step;
        if (p[30] & 0xF8u)
            return bad(d, d->seq, "step: inputs bits 3..7 must be 0");
        in->now_ms = get_u32(p);
        for (i = 0; i < PBM_MAX_CONTACT_NTCS; i++)
            in->contact_ntc[i] = get_u16(p + 4 + 2 * i);
        in->board_ntc = get_u16(p + 8);
        for (i = 0; i < PBM_MAX_STRINGS; i++) {
            in->string_current[i] = get_u16(p + 10 + 2 * i);
            in->string_voltage[i] = get_u16(p + 18 + 2 * i);
        }
        in->supply = get_u16(p + 26);
        in->buttons = p[28];
        in->program = p[29];
        in->skin_contact = (uint8_t)(p[30] & 1u);
        in->eye_shield = (uint8_t)((p[30] >> 1) & 1u);
        in->fan_ok = (uint8_t)((p[30] >> 2) & 1u);
        in->distance_mm = get_u16(p + 31);
        break;
    }
    case PBM_ERROR:
        out->u.error.code = p[0];
        out->u.error.message_len = (uint8_t)(d->len - 1);
        out->u.error.message = p + 1;
        break;
    default:
        break;
    }
    d->state = ST_HUNT;
    return PBM_FEED_FRAME;
}

int pbm_decoder_feed(pbm_decoder *d, uint8_t byte, pbm_request *out)
{
    uint16_t lo, hi;
    switch (d->state) {
    case ST_HUNT:
        if (byte == PBM_SYNC)
            d->state = ST_TYPE;
        return PBM_FEED_MORE;
    case ST_TYPE:
        d->type = byte;
        d->state = ST_SEQ;
        return PBM_FEED_MORE;
    case ST_SEQ:
        d->seq = byte;
        d->state = ST_LEN0;
        return PBM_FEED_MORE;
    case ST_LEN0:
        d->len = byte;
        d->state = ST_LEN1;
        return PBM_FEED_MORE;
    case ST_LEN1:
        d->len = (uint16_t)(d->len | (byte << 8));
        /* Reject at once: never wait for a payload that cannot be right. */
        if (!request_len_range(d->type, &lo, &hi))
            return bad(d, d->seq, "unknown or unexpected frame type");
        if (d->len < lo || d->len > hi)
            return bad(d, d->seq, "payload length outside the type's range");
        d->pos = 0;
        d->state = d->len ? ST_PAYLOAD : ST_CRC0;
        return PBM_FEED_MORE;
    case ST_PAYLOAD:
        d->payload[d->pos++] = byte;
        if (d->pos == d->len)
            d->state = ST_CRC0;
        return PBM_FEED_MORE;
    case ST_CRC0:
        d->crc_rx = byte;
        d->state = ST_CRC1;
        return PBM_FEED_MORE;
    case ST_CRC1: {
        uint8_t hdr[4];
        uint16_t crc;
        d->crc_rx = (uint16_t)(d->crc_rx | (byte << 8));
        hdr[0] = d->type;
        hdr[1] = d->seq;
        put_u16(hdr + 2, d->len);
        crc = pbm_crc16_update(pbm_crc16(hdr, 4), d->payload, d->len);
        if (crc != d->crc_rx)
            return bad(d, d->seq, "CRC mismatch");
        return parse_payload(d, out);
    }
    default:
        return bad(d, 0, "decoder state corrupt");
    }
}

/* ---- Encoders ---------------------------------------------------------------------------- */

size_t pbm_encode_frame(uint8_t *buf, size_t cap, uint8_t type, uint8_t seq,
                        const uint8_t *payload, uint16_t len)
{
    size_t total = PBM_HEADER_LEN + (size_t)len + PBM_CRC_LEN;
    uint16_t crc;
    if (len > PBM_MAX_PAYLOAD || cap < total)
        return 0;
    buf[0] = PBM_SYNC;
    buf[1] = type;
    buf[2] = seq;
    put_u16(buf + 3, len);
    if (len)
        memmove(buf + PBM_HEADER_LEN, payload, len);
    crc = pbm_crc16(buf + 1, (size_t)4 + len);
    put_u16(buf + PBM_HEADER_LEN + len, crc);
    return total;
}

/* Append a length-prefixed string; returns the new offset, or 0 if it is too long. */
static size_t put_str(uint8_t *p, size_t at, const char *s, size_t min, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n < min || n > max)
        return 0;
    p[at++] = (uint8_t)n;
    if (n)
        memcpy(p + at, s, n);
    return at + n;
}

size_t pbm_encode_identify(uint8_t *buf, size_t cap, uint8_t seq, uint8_t protocol_version,
                           uint8_t class_code, const char *name, const char *fw_version,
                           const char *build)
{
    uint8_t p[3 + PBM_MAX_NAME_LEN + 1 + PBM_MAX_VERSION_LEN + 1 + PBM_MAX_BUILD_LEN];
    size_t at = 2;
    p[0] = protocol_version;
    p[1] = class_code;
    if (class_code > PBM_CLASS_LASER_PROBE)
        return 0;
    if (!(at = put_str(p, at, name, 1, PBM_MAX_NAME_LEN)))
        return 0;
    if (!(at = put_str(p, at, fw_version, 0, PBM_MAX_VERSION_LEN)))
        return 0;
    if (!(at = put_str(p, at, build, 0, PBM_MAX_BUILD_LEN)))
        return 0;
    return pbm_encode_frame(buf, cap, PBM_IDENTIFY, seq, p, (uint16_t)at);
}

size_t pbm_encode_output(uint8_t *buf, size_t cap, uint8_t seq, const pbm_output *o)
{
    uint8_t p[PBM_OUTPUT_BASE_LEN + 3 + PBM_NVM_WRITE_MAX];
    uint16_t len = PBM_OUTPUT_BASE_LEN;
    if (o->nvm_write && o->nvm_len > PBM_NVM_WRITE_MAX)
        return 0;
    put_u16(p + 0, o->duty_permille[0]);
    put_u16(p + 2, o->duty_permille[1]);
    put_u16(p + 4, o->current_ma[0]);
    put_u16(p + 6, o->current_ma[1]);
    p[8] = (uint8_t)((o->hw_enable ? 1u : 0u) | (o->nvm_write ? 2u : 0u));
    p[9] = o->indicator;
    put_u32(p + 10, o->next_wake_ms);
    p[14] = o->state;
    p[15] = o->detail;
    put_u32(p + 16, o->dose_estimate_mj_cm2);
    put_u16(p + 20, o->fault_code);
    if (o->nvm_write) {
        put_u16(p + 22, o->nvm_offset);
        p[24] = o->nvm_len;
        memcpy(p + 25, o->nvm_data, o->nvm_len);
        len = (uint16_t)(25u + o->nvm_len);
    }
    return pbm_encode_frame(buf, cap, PBM_OUTPUT, seq, p, len);
}

size_t pbm_encode_empty(uint8_t *buf, size_t cap, uint8_t type, uint8_t seq)
{
    return pbm_encode_frame(buf, cap, type, seq, NULL, 0);
}

size_t pbm_encode_error(uint8_t *buf, size_t cap, uint8_t seq, uint8_t code, const char *message)
{
    uint8_t p[1 + PBM_MAX_MESSAGE_LEN];
    size_t n = message ? strlen(message) : 0;
    if (n > PBM_MAX_MESSAGE_LEN)
        n = PBM_MAX_MESSAGE_LEN;
    p[0] = code;
    if (n)
        memcpy(p + 1, message, n);
    return pbm_encode_frame(buf, cap, PBM_ERROR, seq, p, (uint16_t)(1 + n));
}

/* ---- Link -------------------------------------------------------------------------------- */

enum { LINK_FRESH = 0, LINK_HELLO = 1, LINK_BOOTED = 2 };

void pbm_link_init(pbm_link *l, const pbm_firmware *fw)
{
    pbm_decoder_init(&l->dec);
    l->fw = fw;
    l->class_code = 0;
    l->phase = LINK_FRESH;
    l->bye = 0;
}

size_t pbm_link_feed(pbm_link *l, uint8_t byte, uint8_t *reply, size_t cap)
{
    pbm_request rq;
    const pbm_firmware *fw = l->fw;
    int r = pbm_decoder_feed(&l->dec, byte, &rq);
    if (r == PBM_FEED_MORE)
        return 0;
    if (r == PBM_FEED_BAD)
        return pbm_encode_error(reply, cap, l->dec.err_seq, PBM_ERR_MALFORMED, l->dec.err_msg);
    switch (rq.type) {
    case PBM_HELLO:
        /* A new session: forget everything, as after a reset. */
        if (l->phase == LINK_BOOTED && fw->power_off)
            fw->power_off(fw->ctx);
        l->phase = LINK_FRESH;
        l->bye = 0;
        if (!fw->supports_class(fw->ctx, rq.u.hello.class_code))
            return pbm_encode_error(reply, cap, rq.seq, PBM_ERR_CLASS,
                                    "device class not implemented");
        l->class_code = rq.u.hello.class_code;
        l->phase = LINK_HELLO;
        /* Always answer with our own version: the harness reports a mismatch. */
        return pbm_encode_identify(reply, cap, rq.seq, PBM_PROTOCOL_VERSION, l->class_code,
                                   fw->name, fw->version, fw->build);
    case PBM_BOOT:
        if (l->phase == LINK_FRESH)
            return pbm_encode_error(reply, cap, rq.seq, PBM_ERR_UNEXPECTED, "boot before hello");
        fw->boot(fw->ctx, l->class_code, rq.u.boot_nvm);
        l->phase = LINK_BOOTED;
        return pbm_encode_empty(reply, cap, PBM_BOOTED, rq.seq);
    case PBM_STEP: {
        pbm_output out;
        if (l->phase != LINK_BOOTED)
            return pbm_encode_error(reply, cap, rq.seq, PBM_ERR_UNEXPECTED, "step before boot");
        memset(&out, 0, sizeof out);
        fw->step(fw->ctx, &rq.u.step, &out);
        return pbm_encode_output(reply, cap, rq.seq, &out);
    }
    case PBM_POWER_OFF:
        if (l->phase == LINK_BOOTED && fw->power_off)
            fw->power_off(fw->ctx);
        if (l->phase == LINK_BOOTED)
            l->phase = LINK_HELLO;
        return pbm_encode_empty(reply, cap, PBM_POWERED_OFF, rq.seq);
    case PBM_SHUTDOWN:
        if (l->phase == LINK_BOOTED && fw->power_off)
            fw->power_off(fw->ctx);
        l->phase = LINK_FRESH;
        l->bye = 1;
        return pbm_encode_empty(reply, cap, PBM_BYE, rq.seq);
    case PBM_ERROR:
    default:
        /* The harness is giving up on the link; never answer an ERROR. */
        return 0;
    }
}

/* ---- POSIX main loop --------------------------------------------------------------------- */

#ifndef PBM_NO_POSIX
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int pbm_serve_stdio(const pbm_firmware *fw)
{
    /* Static, not on the stack: a small MCU port of this loop keeps the same footprint. */
    static pbm_link link;
    static uint8_t rx[512];
    static uint8_t tx[PBM_MAX_FRAME_LEN];
    pbm_link_init(&link, fw);
    for (;;) {
        ssize_t n = read(0, rx, sizeof rx), i;
        if (n == 0)
            return 1;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("pbm_serve_stdio: read");
            return 2;
        }
        for (i = 0; i < n; i++) {
            /* read()/write() on the raw descriptor: nothing buffered, so every reply is
             * flushed as soon as it is written (docs/protocol.md checklist item 8). */
            size_t len = pbm_link_feed(&link, rx[i], tx, sizeof tx);
            if (len && write_all(1, tx, len) != 0) {
                perror("pbm_serve_stdio: write");
                return 2;
            }
            if (link.bye)
                return 0;
        }
    }
}
#endif
