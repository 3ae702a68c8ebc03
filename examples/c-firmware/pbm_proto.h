/*
 * pbm_proto.h - the firmware side of the pbm-hil protocol, version 1, in portable C99.
 *
 * The contract is docs/protocol.md (binary framing). This file and pbm_proto.c are all a C
 * firmware needs to be driven by `pbm-hil run --firmware exec:...|tcp:...|serial:...`.
 *
 * Design:
 *   - No malloc, no global state: every object lives in memory the caller owns.
 *   - Byte in, bytes out. pbm_link_feed() takes one received byte (from a UART ISR, a
 *     read() loop, a ring buffer...) and, when that byte completes a request, writes the reply
 *     frame into a caller buffer. Sending the reply is the caller's business.
 *   - The layers can be used separately: pbm_crc16 (CRC-16/CCITT-FALSE), pbm_decoder (a
 *     frame decoder fed one byte at a time), the pbm_encode_* functions (reply encoders into a
 *     caller buffer), pbm_link (the request/reply state machine calling your firmware through
 *     pbm_firmware), and pbm_serve_stdio (a POSIX main loop on stdin/stdout for exec:).
 *   - Only the binary wire is implemented; the optional text wire (docs/protocol.md,
 *     "Text mode") is not: a text `hello` line is answered with ERROR code 1.
 *
 * Field meanings and units are those of firmware/src/boundary.rs.
 */
#ifndef PBM_PROTO_H
#define PBM_PROTO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Constants (docs/protocol.md) ------------------------------------------------------- */

#define PBM_PROTOCOL_VERSION 1u
#define PBM_SYNC 0xA5u
#define PBM_HEADER_LEN 5u     /* sync, type, seq, len (u16 LE) */
#define PBM_CRC_LEN 2u        /* CRC-16/CCITT-FALSE over type..payload, u16 LE */
#define PBM_MAX_PAYLOAD 256u  /* BOOT carries the whole NVM image */
#define PBM_MAX_FRAME_LEN (PBM_HEADER_LEN + PBM_MAX_PAYLOAD + PBM_CRC_LEN) /* 263 */
#define PBM_NVM_SIZE 256u
#define PBM_NVM_WRITE_MAX 64u
#define PBM_STEP_LEN 33u
#define PBM_OUTPUT_BASE_LEN 22u
#define PBM_MAX_NAME_LEN 64u
#define PBM_MAX_VERSION_LEN 32u
#define PBM_MAX_BUILD_LEN 64u
#define PBM_MAX_MESSAGE_LEN 200u

#define PBM_MAX_CHANNELS 2
#define PBM_MAX_STRINGS 4
#define PBM_MAX_CONTACT_NTCS 2

/* Frame type codes. A reply is its request's code with bit 7 set. */
enum pbm_frame_type {
    PBM_HELLO = 0x01,
    PBM_BOOT = 0x02,
    PBM_STEP = 0x03,
    PBM_POWER_OFF = 0x04,
    PBM_SHUTDOWN = 0x05,
    PBM_ERROR = 0x7F,
    PBM_IDENTIFY = 0x81,
    PBM_BOOTED = 0x82,
    PBM_OUTPUT = 0x83,
    PBM_POWERED_OFF = 0x84,
    PBM_BYE = 0x85
};

/* ERROR frame codes. */
enum pbm_error_code {
    PBM_ERR_MALFORMED = 1,  /* CRC, length or field out of range */
    PBM_ERR_UNEXPECTED = 2, /* e.g. STEP before BOOT */
    PBM_ERR_VERSION = 3,    /* protocol version not supported */
    PBM_ERR_CLASS = 4,      /* device class not implemented */
    PBM_ERR_INTERNAL = 5
};

/* Device classes (HELLO's class byte). */
enum pbm_class {
    PBM_CLASS_WRAP = 0,
    PBM_CLASS_PAD = 1,
    PBM_CLASS_PANEL = 2,
    PBM_CLASS_MASK = 3,
    PBM_CLASS_PEN = 4,
    PBM_CLASS_LASER_PROBE = 5
};

/* Button bits of pbm_input.buttons (levels, pressed = 1; the firmware debounces). */
#define PBM_BUTTON_START 0x01u
#define PBM_BUTTON_PAUSE 0x02u
#define PBM_BUTTON_STOP 0x04u

/* Standard session-state codes for pbm_output.state (firmware::boundary::SessionState). */
enum pbm_session_state {
    PBM_STATE_OFF = 0,
    PBM_STATE_IDLE = 1,
    PBM_STATE_TREATING = 2,
    PBM_STATE_PAUSED = 3,
    PBM_STATE_COMPLETED = 4,
    PBM_STATE_REFUSED = 5,
    PBM_STATE_STOPPED = 6,
    PBM_STATE_FAULT = 7
};

/* Indicator codes for pbm_output.indicator. */
enum pbm_indicator {
    PBM_IND_OFF = 0,
    PBM_IND_READY = 1,
    PBM_IND_TREATING = 2,
    PBM_IND_PAUSED = 3,
    PBM_IND_WARNING = 4,
    PBM_IND_REFUSED = 5,
    PBM_IND_FAULT = 6
};

/* ---- Frames as C structs --------------------------------------------------------------- */

/* Everything the firmware reads in one step (STEP payload, 33 bytes). ADC values are raw
 * 12-bit counts; see docs/protocol.md for the full scales. */
typedef struct pbm_input {
    uint32_t now_ms;                             /* ms since boot, wraps at 2^32 */
    uint16_t contact_ntc[PBM_MAX_CONTACT_NTCS];  /* counts; 0 when unused */
    uint16_t board_ntc;                          /* counts */
    uint16_t string_current[PBM_MAX_STRINGS];    /* counts, 4095 = 2000 mA */
    uint16_t string_voltage[PBM_MAX_STRINGS];    /* counts, 4095 = 40000 mV */
    uint16_t supply;                             /* counts, 4095 = 30000 mV */
    uint8_t buttons;                             /* PBM_BUTTON_* levels */
    uint8_t program;                             /* selector position */
    uint8_t skin_contact;                        /* 1 = on skin */
    uint8_t eye_shield;                          /* 1 = fitted */
    uint8_t fan_ok;                              /* 1 = healthy or no fan */
    uint16_t distance_mm;                        /* 0 when absent */
} pbm_input;

/* Everything the firmware drives in one step (OUTPUT payload, 22 bytes + optional NVM write). */
typedef struct pbm_output {
    uint16_t duty_permille[PBM_MAX_CHANNELS]; /* 0..=1000 */
    uint16_t current_ma[PBM_MAX_CHANNELS];    /* per string of each channel */
    uint8_t hw_enable;                        /* 1 = LED drivers enabled */
    uint8_t indicator;                        /* enum pbm_indicator */
    uint32_t next_wake_ms;                    /* 0 is treated as 1 by the harness */
    uint8_t state;                            /* enum pbm_session_state */
    uint8_t detail;                           /* free-form, for the trace */
    uint32_t dose_estimate_mj_cm2;            /* session's zone-mean fluence estimate */
    uint16_t fault_code;                      /* 0 = none */
    uint8_t nvm_write;                        /* 1 = the write below is present */
    uint16_t nvm_offset;                      /* byte offset into the 256-byte image */
    uint8_t nvm_len;                          /* 0..=PBM_NVM_WRITE_MAX */
    uint8_t nvm_data[PBM_NVM_WRITE_MAX];
} pbm_output;

/* ---- CRC ------------------------------------------------------------------------------- */

/* CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, xorout 0): check 0x29B1. */
uint16_t pbm_crc16(const uint8_t *p, size_t n);
/* Continue a CRC over more bytes (start with 0xFFFF). */
uint16_t pbm_crc16_update(uint16_t crc, const uint8_t *p, size_t n);

/* ---- Decoder (requests, one byte at a time) ---------------------------------------------- */

/* A request the decoder accepted. Pointers point into the decoder and stay valid until the
 * next pbm_decoder_feed(). */
typedef struct pbm_request {
    uint8_t type; /* enum pbm_frame_type */
    uint8_t seq;
    union {
        struct { uint8_t protocol_version, class_code; } hello;
        const uint8_t *boot_nvm; /* PBM_NVM_SIZE bytes */
        pbm_input step;
        struct { uint8_t code; uint8_t message_len; const uint8_t *message; } error;
    } u;
} pbm_request;

/* Result of feeding one byte. */
enum pbm_feed_result {
    PBM_FEED_MORE = 0,  /* nothing complete yet */
    PBM_FEED_FRAME = 1, /* *out holds a valid request */
    PBM_FEED_BAD = -1   /* malformed frame: see pbm_decoder.err_seq / err_msg; hunting again */
};

typedef struct pbm_decoder {
    uint8_t state;  /* internal */
    uint8_t type, seq;
    uint16_t len, pos;
    uint16_t crc_rx;
    uint8_t payload[PBM_MAX_PAYLOAD];
    /* After PBM_FEED_BAD: the seq to put in the ERROR reply (0 if the header was not read)
     * and a NUL-terminated reason. */
    uint8_t err_seq;
    const char *err_msg;
} pbm_decoder;

void pbm_decoder_init(pbm_decoder *d);
/* Feed one received byte. Bytes before a sync byte are skipped. Unknown types and lengths
 * outside the type's range are rejected as soon as the header is read. */
int pbm_decoder_feed(pbm_decoder *d, uint8_t byte, pbm_request *out);

/* ---- Encoders (replies, into a caller buffer) ---------------------------------------------
 * Each returns the frame length in bytes, or 0 if `cap` is too small or a field is out of
 * range (a string too long, nvm_len > 64). PBM_MAX_FRAME_LEN bytes are always enough. */

size_t pbm_encode_identify(uint8_t *buf, size_t cap, uint8_t seq, uint8_t protocol_version,
                           uint8_t class_code, const char *name, const char *fw_version,
                           const char *build);
size_t pbm_encode_output(uint8_t *buf, size_t cap, uint8_t seq, const pbm_output *o);
/* An empty-payload reply: PBM_BOOTED, PBM_POWERED_OFF or PBM_BYE. */
size_t pbm_encode_empty(uint8_t *buf, size_t cap, uint8_t type, uint8_t seq);
/* ERROR; `message` is truncated to PBM_MAX_MESSAGE_LEN bytes. */
size_t pbm_encode_error(uint8_t *buf, size_t cap, uint8_t seq, uint8_t code, const char *message);
/* Any frame from type, seq and a ready payload (used by the encoders above). */
size_t pbm_encode_frame(uint8_t *buf, size_t cap, uint8_t type, uint8_t seq,
                        const uint8_t *payload, uint16_t len);

/* ---- Link: the request/reply state machine around your firmware --------------------------- */

/* Your firmware, as the link calls it. All callbacks get `ctx`. */
typedef struct pbm_firmware {
    const char *name;       /* 1..=64 bytes */
    const char *version;    /* 0..=32 bytes, e.g. "1.0.0" */
    const char *build;      /* 0..=64 bytes, may be "" */
    void *ctx;
    /* Nonzero if the firmware implements device class `class_code` (else ERROR code 4). */
    int (*supports_class)(void *ctx, uint8_t class_code);
    /* Power-on with the NVM image as on the chip (erased bytes read 0xFF). */
    void (*boot)(void *ctx, uint8_t class_code, const uint8_t nvm[PBM_NVM_SIZE]);
    /* One step. `out` is zeroed before the call. */
    void (*step)(void *ctx, const pbm_input *in, pbm_output *out);
    /* Power off: drop all RAM state. May be NULL. */
    void (*power_off)(void *ctx);
} pbm_firmware;

typedef struct pbm_link {
    pbm_decoder dec;
    const pbm_firmware *fw;
    uint8_t class_code;
    uint8_t phase; /* internal: 0 no HELLO yet, 1 after HELLO, 2 booted */
    uint8_t bye;   /* set once BYE has been produced */
} pbm_link;

void pbm_link_init(pbm_link *l, const pbm_firmware *fw);
/* Feed one received byte. Returns the length of the reply written to `reply` (0 if there is
 * nothing to send yet). `cap` must be at least PBM_MAX_FRAME_LEN. */
size_t pbm_link_feed(pbm_link *l, uint8_t byte, uint8_t *reply, size_t cap);

/* ---- POSIX helper ------------------------------------------------------------------------ */

/* Serve one link on file descriptors 0 (requests) and 1 (replies) until BYE or end of input.
 * Returns 0 after BYE, 1 on end of input without BYE, 2 on an I/O error. Diagnostics go to
 * stderr only. Not compiled with -DPBM_NO_POSIX. */
int pbm_serve_stdio(const pbm_firmware *fw);

#ifdef __cplusplus
}
#endif

#endif /* PBM_PROTO_H */
