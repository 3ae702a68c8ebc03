/*
 * codec_check.c - the C codec against the Rust one (tests/c_firmware.rs).
 *
 *   codec_check encode   writes the replies of docs/protocol.md's worked example (IDENTIFY,
 *                        BOOTED, OUTPUT with and without an NVM write, POWERED_OFF, BYE, ERROR)
 *                        as binary frames to stdout; the test compares them byte for byte with
 *                        harness::protocol::encode of the same frames.
 *   codec_check decode   reads binary request frames on stdin, decodes them with pbm_decoder
 *                        and prints each as the text-wire line harness::protocol::encode_text
 *                        gives for it (a malformed frame prints `bad seq=N`), so the test can
 *                        compare the C decoder's view with the Rust encoder's input.
 */
#include "pbm_proto.h"

#include <stdio.h>
#include <string.h>

static void print_list(const char *key, const uint16_t *v, int n)
{
    int i;
    printf(" %s=", key);
    for (i = 0; i < n; i++)
        printf(i ? ",%u" : "%u", (unsigned)v[i]);
}

static void print_text(const char *key, const uint8_t *s, size_t n)
{
    size_t i;
    printf(" %s=", key);
    for (i = 0; i < n; i++) {
        if (s[i] >= 0x21 && s[i] <= 0x7E && s[i] != '%' && s[i] != '=')
            putchar(s[i]);
        else
            printf("%%%02X", (unsigned)s[i]);
    }
}

static void print_request(const pbm_request *r)
{
    size_t i;
    switch (r->type) {
    case PBM_HELLO:
        printf("hello seq=%u version=%u class=%u\n", r->seq, r->u.hello.protocol_version,
               r->u.hello.class_code);
        break;
    case PBM_BOOT:
        printf("boot seq=%u nvm=", r->seq);
        for (i = 0; i < PBM_NVM_SIZE; i++)
            printf("%02x", r->u.boot_nvm[i]);
        printf("\n");
        break;
    case PBM_STEP: {
        const pbm_input *in = &r->u.step;
        printf("step seq=%u now_ms=%lu", r->seq, (unsigned long)in->now_ms);
        print_list("contact_ntc", in->contact_ntc, 2);
        printf(" board_ntc=%u", in->board_ntc);
        print_list("string_current", in->string_current, 4);
        print_list("string_voltage", in->string_voltage, 4);
        printf(" supply=%u buttons=%u program=%u skin_contact=%u eye_shield=%u fan_ok=%u"
               " distance_mm=%u\n",
               in->supply, in->buttons, in->program, in->skin_contact, in->eye_shield,
               in->fan_ok, in->distance_mm);
        break;
    }
    case PBM_POWER_OFF: printf("power_off seq=%u\n", r->seq); break;
    case PBM_SHUTDOWN: printf("shutdown seq=%u\n", r->seq); break;
    case PBM_ERROR:
        printf("error seq=%u code=%u", r->seq, r->u.error.code);
        print_text("message", r->u.error.message, r->u.error.message_len);
        printf("\n");
        break;
    default: printf("unknown seq=%u\n", r->seq); break;
    }
}

static int encode(void)
{
    static uint8_t buf[8 * PBM_MAX_FRAME_LEN];
    size_t at = 0, n;
    pbm_output o;
    memset(&o, 0, sizeof o);
#define ADD(expr) do { n = (expr); if (!n) return 1; at += n; } while (0)
    ADD(pbm_encode_identify(buf + at, sizeof buf - at, 0, 1, 0, "acme-wrap", "2.3.1", "9f3c2e1"));
    ADD(pbm_encode_empty(buf + at, sizeof buf - at, PBM_BOOTED, 1));
    o.duty_permille[0] = 800;
    o.current_ma[0] = 350;
    o.hw_enable = 1;
    o.indicator = PBM_IND_TREATING;
    o.next_wake_ms = 10;
    o.state = PBM_STATE_TREATING;
    o.detail = 3;
    o.dose_estimate_mj_cm2 = 1500;
    o.nvm_write = 1;
    o.nvm_offset = 64;
    o.nvm_len = 4;
    memcpy(o.nvm_data, "\xDE\xAD\xBE\xEF", 4);
    ADD(pbm_encode_output(buf + at, sizeof buf - at, 2, &o));
    o.nvm_write = 0;
    ADD(pbm_encode_output(buf + at, sizeof buf - at, 3, &o));
    ADD(pbm_encode_empty(buf + at, sizeof buf - at, PBM_POWERED_OFF, 4));
    ADD(pbm_encode_empty(buf + at, sizeof buf - at, PBM_BYE, 5));
    ADD(pbm_encode_error(buf + at, sizeof buf - at, 7, PBM_ERR_UNEXPECTED, "step before boot"));
#undef ADD
    return fwrite(buf, 1, at, stdout) == at ? 0 : 1;
}

static int decode(void)
{
    static pbm_decoder d;
    pbm_request r;
    int c;
    pbm_decoder_init(&d);
    while ((c = getchar()) != EOF) {
        int res = pbm_decoder_feed(&d, (uint8_t)c, &r);
        if (res == PBM_FEED_FRAME)
            print_request(&r);
        else if (res == PBM_FEED_BAD)
            printf("bad seq=%u\n", d.err_seq);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (pbm_crc16((const uint8_t *)"123456789", 9) != 0x29B1u) {
        fprintf(stderr, "codec_check: CRC check value wrong\n");
        return 1;
    }
    if (argc == 2 && strcmp(argv[1], "encode") == 0)
        return encode();
    if (argc == 2 && strcmp(argv[1], "decode") == 0)
        return decode();
    fprintf(stderr, "usage: codec_check encode|decode\n");
    return 2;
}
