/*
 * wrap_fw.c - a simple contact-wrap firmware in C, driven by pbm-hil over pbm_proto.
 *
 * This is the firmware a small company might write in an afternoon: it treats, it stops, it
 * latches the obvious faults. It is a teaching example and a test subject, NOT the reference:
 * the reference firmware (firmware/src/machine.rs) does all of this and much more.
 *
 * Implemented:
 *   - NTC counts -> deg C with the Beta model (10k/B3950, 10 kOhm divider, 12-bit ADC; the
 *     `hw` constants of firmware/src/boundary.rs, domain.md sec. 6.5), rail checks for open and
 *     shorted sensors.
 *   - The wrap's program table (firmware/src/programs.rs, WRAP): six zones, red 200 mA +
 *     NIR 187 mA per string at 1000 permille, target 9 J/cm2 zone-mean, 20 min timer.
 *   - Dose integration from the wrap's calibrated irradiance (firmware/src/device.rs,
 *     CALIBRATION[Wrap]) times a junction-temperature factor 1 + k (Tj - 25), Tj estimated
 *     from the board NTC and the measured string power; integer nJ/cm2 accumulation.
 *   - Session timer; Completed at the dose target (or at the timer with >= 85 % of it).
 *   - Contact interlock: no start off the skin, pause at once when contact is lost.
 *   - Start refused on hot skin (contact NTC > 38 deg C).
 *   - Over-temperature stop: the session ends when a contact NTC reads >= 42 deg C.
 *   - NTC open/short (contact or board) and LED string open -> fault latched until power
 *     cycle, emission off; fault code = kind << 8 | part, as the reference numbers them.
 *   - Buttons debounced (20 ms over two samples); PAUSE, STOP, resume with START;
 *     a pause longer than 5 min ends the session.
 *   - Standard session-state codes (firmware::boundary::SessionState) and indicator codes.
 *   - NVM: a boot counter record at offset 0 (magic "WC", u16 LE), read at BOOT and written
 *     back on the first step: it shows the NVM image and the OUTPUT write path end to end.
 *
 * Deliberately NOT implemented (the matching properties fail, and tests/c_firmware.rs
 * expects that):
 *   - daily/weekly caps, the minimum gap between sessions and the NVM dose ledger
 *     (dose.daily, dose.weekly, session.refusal, nvm.integrity);
 *   - contact-temperature and covered/blanket derating (only the 42 deg C stop protects
 *     the skin: skin.normal, skin.cem43);
 *   - the CEM43 thermal-dose monitor, junction derating, board over-temperature stop;
 *   - NTC plausibility (rate, disagreement, stuck, below ambient), string short, over-current,
 *     driver stuck-on, ambient start checks, the per-session peak-fluence cap.
 */
#include "pbm_proto.h"

#include <math.h>
#include <string.h>

/* ---- Hardware (firmware/src/boundary.rs `hw`, domain.md sec. 6.5) ------------------------- */

#define ADC_MAX 4095.0f
#define NTC_R_FIXED_OHM 10000.0f
#define NTC_R25_OHM 10000.0f
#define NTC_BETA_K 3950.0f
#define T25_K 298.15f
#define KELVIN_OFFSET 273.15f
/* Codes this close to a rail are a broken sensor (firmware/src/ntc.rs RAIL_MARGIN_COUNTS). */
#define RAIL_MARGIN_COUNTS 8u
#define CURRENT_FULL_SCALE_MA 2000.0f
#define VOLTAGE_FULL_SCALE_MV 40000.0f

/* ---- Calibration of the wrap (firmware/src/device.rs CALIBRATION[Wrap]) ------------------- */

typedef struct channel_cal {
    float irradiance_mw_cm2; /* zone mean at nominal current, 25 C, full duty */
    uint16_t nominal_ma;
    float k_phi_per_k;       /* output temperature coefficient, 1/K */
    float leds_per_string;
    float r_th_jb_k_per_w;   /* junction to board, per LED */
    float wpe;               /* wall-plug efficiency at nominal */
} channel_cal;

static const channel_cal WRAP_CAL[PBM_MAX_CHANNELS] = {
    /* 660 nm red: 7.97 mW/cm2 at 200 mA, -0.28 %/K (domain.md sec. 3.2 [V]) */
    {7.97f, 200, -0.0028f, 8.0f, 10.0f, 0.84f},
    /* 850 nm NIR: 8.01 mW/cm2 at 187 mA, -0.3 %/K (domain.md sec. 3.2 [M]) */
    {8.01f, 187, -0.003f, 8.0f, 14.0f, 0.57f},
};

/* ---- Programs (firmware/src/programs.rs WRAP) -------------------------------------------- */

typedef struct program {
    uint16_t current_ma[PBM_MAX_CHANNELS];
    uint16_t duty_permille[PBM_MAX_CHANNELS];
    uint32_t target_mj_cm2;
    uint32_t time_limit_s;
} program;

#define WRAP_FULL {200, 187}, {1000, 1000}, 9000, 1200
/* Left calf, right calf, left quad, right quad, left hamstring, right hamstring. */
static const program PROGRAMS[] = {{WRAP_FULL}, {WRAP_FULL}, {WRAP_FULL},
                                   {WRAP_FULL}, {WRAP_FULL}, {WRAP_FULL}};
#define N_PROGRAMS (sizeof PROGRAMS / sizeof PROGRAMS[0])

/* ---- Thresholds ----------------------------------------------------------------------- */

#define START_MAX_CONTACT_C 38.0f  /* refuse a start on hot skin (domain.md sec. 6.2) */
#define STOP_CONTACT_C 42.0f       /* end the session (domain.md sec. 6.2 hard off 42 C) */
#define COMPLETED_FRACTION 0.85f   /* timer end counts as completed above this */
#define DEBOUNCE_MS 20u
#define CONFIRM_MS 30u             /* a fault condition must hold this long to latch */
#define PAUSE_TIMEOUT_MS 300000u
/* Control tick while treating, ms. 100 ms, not the reference's 10 ms: the harness also steps on
 * every input change (contact loss, a press, an injected fault), the dose overshoot at the
 * target is 1.6 mJ/cm2 per tick, and a 10x smaller step count keeps a simulated week fast. */
#define TREAT_TICK_MS 100u
/* Tick while a press is being debounced or a fault confirmed, ms. */
#define SETTLE_TICK_MS 10u
#define PAUSE_WAKE_MS 100u
#define IDLE_WAKE_MS 60000u
#define MIN_CHECKED_MA 20.0f       /* string checks need this much expected current */
#define OPEN_CURRENT_FRACTION 0.5f /* open: current below half the expected ... */
#define OPEN_VOLTAGE_FRACTION 0.9f /* ... with the sink at compliance */

/* Fault kinds (high byte of fault_code; the reference's numbering). */
#define FAULT_NTC_OPEN 1u
#define FAULT_NTC_SHORT 2u
#define FAULT_STRING_OPEN 5u
#define BOARD_NTC_INDEX 2u

/* Firmware phases; the trace's detail code is phase << 4 | reason. */
enum phase { PH_IDLE = 1, PH_TREATING, PH_PAUSED, PH_COMPLETED, PH_STOPPED, PH_REFUSED, PH_FAULT };
enum reason {
    R_NONE = 0,
    R_NO_PROGRAM = 1, R_NO_CONTACT, R_HOT_SKIN, R_SENSOR, /* refusals */
    R_TARGET = 1, R_TIMER, R_USER_STOP, R_PAUSE_TIMEOUT, R_CONTACT_HOT, /* ends */
    R_USER_PAUSE = 1, R_CONTACT_LOST /* pauses */
};

#define NVM_MAGIC0 0x57u /* 'W' */
#define NVM_MAGIC1 0x43u /* 'C' */

typedef struct wrap {
    enum phase phase;
    uint8_t reason;
    uint16_t fault_code;
    /* clock */
    int have_last;
    uint32_t last_now_ms;
    uint64_t uptime_ms;
    /* buttons */
    int primed;
    uint8_t stable, candidate;
    uint64_t candidate_since_ms;
    /* fault confirmation */
    uint16_t suspect;
    uint64_t suspect_since_ms;
    /* session */
    const program *prog;
    uint64_t treated_ms;
    uint64_t paused_since_ms;
    uint64_t dose_nj_cm2[PBM_MAX_CHANNELS];
    uint32_t last_dose_mj_cm2;
    /* what was driven last step (dose integration and string checks use it) */
    uint16_t cmd_duty[PBM_MAX_CHANNELS];
    uint16_t cmd_ma[PBM_MAX_CHANNELS];
    int cmd_enable;
    /* NVM boot counter */
    uint16_t boots;
    int boot_record_pending;
} wrap;

/* ---- Sensors --------------------------------------------------------------------------- */

enum ntc_kind { NTC_OK, NTC_OPEN, NTC_SHORT };

/* Beta model: 1/T = 1/T25 + ln(R/R25)/B, R = R_f code/(ADC_MAX - code) (domain.md sec. 6.5). */
static enum ntc_kind ntc_read(uint16_t counts, float *celsius)
{
    float code, r_ohm;
    if (counts >= 4095u - RAIL_MARGIN_COUNTS)
        return NTC_OPEN;
    if (counts <= RAIL_MARGIN_COUNTS)
        return NTC_SHORT;
    code = (float)counts;
    r_ohm = NTC_R_FIXED_OHM * code / (ADC_MAX - code);
    *celsius = 1.0f / (1.0f / T25_K + logf(r_ohm / NTC_R25_OHM) / NTC_BETA_K) - KELVIN_OFFSET;
    return NTC_OK;
}

static float string_ma(const pbm_input *in, int s)
{
    return (float)in->string_current[s] * CURRENT_FULL_SCALE_MA / ADC_MAX;
}

static float string_mv(const pbm_input *in, int s)
{
    return (float)in->string_voltage[s] * VOLTAGE_FULL_SCALE_MV / ADC_MAX;
}

/* ---- Firmware ------------------------------------------------------------------------- */

static int wrap_supports(void *ctx, uint8_t class_code)
{
    (void)ctx;
    return class_code == PBM_CLASS_WRAP;
}

static void wrap_boot(void *ctx, uint8_t class_code, const uint8_t nvm[PBM_NVM_SIZE])
{
    wrap *w = ctx;
    (void)class_code;
    memset(w, 0, sizeof *w);
    w->phase = PH_IDLE;
    if (nvm[0] == NVM_MAGIC0 && nvm[1] == NVM_MAGIC1)
        w->boots = (uint16_t)(nvm[2] | (nvm[3] << 8));
    w->boots++;
    w->boot_record_pending = 1;
}

static void wrap_power_off(void *ctx)
{
    wrap *w = ctx;
    memset(w, 0, sizeof *w);
}

static uint32_t dose_mean_mj_cm2(const wrap *w)
{
    return (uint32_t)((w->dose_nj_cm2[0] + w->dose_nj_cm2[1]) / 1000000u);
}

static void end_session(wrap *w, enum phase phase, uint8_t reason)
{
    w->last_dose_mj_cm2 = dose_mean_mj_cm2(w);
    w->prog = NULL;
    w->phase = phase;
    w->reason = reason;
}

/* Returns the buttons that became pressed this step. */
static uint8_t debounce(wrap *w, uint8_t raw)
{
    uint8_t pressed;
    if (!w->primed) {
        /* Buttons held at power-on are not presses. */
        w->primed = 1;
        w->stable = w->candidate = raw;
        w->candidate_since_ms = w->uptime_ms;
        return 0;
    }
    if (raw != w->candidate) {
        w->candidate = raw;
        w->candidate_since_ms = w->uptime_ms;
        return 0;
    }
    if (w->candidate == w->stable || w->uptime_ms - w->candidate_since_ms < DEBOUNCE_MS)
        return 0;
    pressed = (uint8_t)(w->candidate & ~w->stable);
    w->stable = w->candidate;
    return pressed;
}

/* Dose delivered since the last step under the command that was in force (H = E t). */
static void integrate(wrap *w, const pbm_input *in, int board_ok, float board_c, uint32_t dt)
{
    int c;
    if (w->phase != PH_TREATING || !w->cmd_enable)
        return;
    for (c = 0; c < PBM_MAX_CHANNELS; c++) {
        const channel_cal *cal = &WRAP_CAL[c];
        float heat_w = 0.0f, tj_c, factor, e_uw;
        int s;
        /* Junction estimate: board plus R_th,jb times the heat of one LED of the channel. */
        for (s = 2 * c; s < 2 * c + 2; s++)
            heat_w += string_ma(in, s) * string_mv(in, s) / 1.0e6f * (1.0f - cal->wpe)
                      / cal->leds_per_string / 2.0f;
        tj_c = (board_ok ? board_c : 25.0f) + cal->r_th_jb_k_per_w * heat_w;
        factor = 1.0f + cal->k_phi_per_k * (tj_c - 25.0f);
        if (factor < 0.0f)
            factor = 0.0f;
        /* Programs run at the nominal current, so the droop factor g(I/I_nom) is 1. */
        e_uw = cal->irradiance_mw_cm2 * 1000.0f * factor * ((float)w->cmd_duty[c] / 1000.0f)
               * ((float)w->cmd_ma[c] / (float)cal->nominal_ma);
        w->dose_nj_cm2[c] += (uint64_t)(e_uw + 0.5f) * dt;
    }
    w->treated_ms += dt;
}

/* The first fault condition present now (not yet confirmed), as a fault code; 0 if none. */
static uint16_t find_fault(const wrap *w, const pbm_input *in)
{
    const uint16_t ntc[3] = {in->contact_ntc[0], in->contact_ntc[1], in->board_ntc};
    static const uint8_t index[3] = {0, 1, BOARD_NTC_INDEX};
    int i, s;
    for (i = 0; i < 3; i++) {
        float ignored;
        enum ntc_kind k = ntc_read(ntc[i], &ignored);
        if (k == NTC_OPEN)
            return (uint16_t)(FAULT_NTC_OPEN << 8 | index[i]);
        if (k == NTC_SHORT)
            return (uint16_t)(FAULT_NTC_SHORT << 8 | index[i]);
    }
    for (s = 0; s < PBM_MAX_STRINGS; s++) {
        int c = s / 2;
        float expected = w->cmd_enable ? (float)w->cmd_ma[c] * (float)w->cmd_duty[c] / 1000.0f
                                       : 0.0f;
        if (expected >= MIN_CHECKED_MA && string_ma(in, s) < OPEN_CURRENT_FRACTION * expected
            && string_mv(in, s) > OPEN_VOLTAGE_FRACTION * VOLTAGE_FULL_SCALE_MV)
            return (uint16_t)(FAULT_STRING_OPEN << 8 | s);
    }
    return 0;
}

static void try_start(wrap *w, const pbm_input *in, int contact_ok, float contact_max_c)
{
    w->phase = PH_REFUSED;
    if (in->program >= N_PROGRAMS)
        w->reason = R_NO_PROGRAM;
    else if (w->suspect || !contact_ok)
        w->reason = R_SENSOR;
    else if (!in->skin_contact)
        w->reason = R_NO_CONTACT;
    else if (contact_max_c > START_MAX_CONTACT_C)
        w->reason = R_HOT_SKIN;
    else {
        w->phase = PH_TREATING;
        w->reason = R_NONE;
        w->prog = &PROGRAMS[in->program];
        w->treated_ms = 0;
        w->dose_nj_cm2[0] = w->dose_nj_cm2[1] = 0;
    }
}

static void wrap_step(void *ctx, const pbm_input *in, pbm_output *out)
{
    wrap *w = ctx;
    uint32_t dt = w->have_last ? in->now_ms - w->last_now_ms : 0; /* wraps like a tick counter */
    float contact_c[2] = {0.0f, 0.0f}, board_c = 25.0f, contact_max = -273.0f;
    int contact_ok, board_ok, i;
    uint8_t pressed;
    uint16_t suspect;

    w->have_last = 1;
    w->last_now_ms = in->now_ms;
    w->uptime_ms += dt;

    contact_ok = ntc_read(in->contact_ntc[0], &contact_c[0]) == NTC_OK
                 && ntc_read(in->contact_ntc[1], &contact_c[1]) == NTC_OK;
    board_ok = ntc_read(in->board_ntc, &board_c) == NTC_OK;
    for (i = 0; i < 2; i++)
        if (contact_c[i] > contact_max)
            contact_max = contact_c[i];

    integrate(w, in, board_ok, board_c, dt);

    /* Faults: a condition must hold CONFIRM_MS over two samples, then latches. */
    suspect = w->phase == PH_FAULT ? 0 : find_fault(w, in);
    if (!suspect) {
        w->suspect = 0;
    } else if (suspect != w->suspect) {
        w->suspect = suspect;
        w->suspect_since_ms = w->uptime_ms;
    } else if (w->uptime_ms - w->suspect_since_ms >= CONFIRM_MS) {
        w->fault_code = suspect;
        w->suspect = 0;
        if (w->prog)
            w->last_dose_mj_cm2 = dose_mean_mj_cm2(w);
        w->prog = NULL;
        w->phase = PH_FAULT;
        w->reason = R_NONE;
    }

    pressed = debounce(w, in->buttons);
    switch (w->phase) {
    case PH_FAULT:
        break;
    case PH_TREATING:
        if (pressed & PBM_BUTTON_STOP)
            end_session(w, PH_STOPPED, R_USER_STOP);
        else if ((pressed & PBM_BUTTON_PAUSE) || !in->skin_contact) {
            w->phase = PH_PAUSED;
            w->reason = (pressed & PBM_BUTTON_PAUSE) ? R_USER_PAUSE : R_CONTACT_LOST;
            w->paused_since_ms = w->uptime_ms;
        }
        break;
    case PH_PAUSED:
        if (pressed & PBM_BUTTON_STOP)
            end_session(w, PH_STOPPED, R_USER_STOP);
        else if ((pressed & PBM_BUTTON_START) && in->skin_contact) {
            w->phase = PH_TREATING;
            w->reason = R_NONE;
        } else if (w->uptime_ms - w->paused_since_ms >= PAUSE_TIMEOUT_MS)
            end_session(w, PH_STOPPED, R_PAUSE_TIMEOUT);
        break;
    default: /* idle, completed, stopped, refused */
        if (pressed & PBM_BUTTON_START)
            try_start(w, in, contact_ok, contact_max);
        break;
    }

    if (w->phase == PH_TREATING) {
        uint32_t dose = dose_mean_mj_cm2(w);
        if (dose >= w->prog->target_mj_cm2)
            end_session(w, PH_COMPLETED, R_TARGET);
        else if (w->treated_ms >= (uint64_t)w->prog->time_limit_s * 1000u)
            end_session(w, (float)dose >= COMPLETED_FRACTION * (float)w->prog->target_mj_cm2
                               ? PH_COMPLETED : PH_STOPPED, R_TIMER);
        else if (contact_ok && contact_max >= STOP_CONTACT_C)
            end_session(w, PH_STOPPED, R_CONTACT_HOT);
    }

    /* Drive: full program output while treating, everything off otherwise. */
    memset(w->cmd_duty, 0, sizeof w->cmd_duty);
    memset(w->cmd_ma, 0, sizeof w->cmd_ma);
    w->cmd_enable = 0;
    if (w->phase == PH_TREATING) {
        w->cmd_enable = 1;
        for (i = 0; i < PBM_MAX_CHANNELS; i++) {
            w->cmd_duty[i] = w->prog->duty_permille[i];
            w->cmd_ma[i] = w->prog->current_ma[i];
        }
    }
    for (i = 0; i < PBM_MAX_CHANNELS; i++) {
        out->duty_permille[i] = w->cmd_duty[i];
        out->current_ma[i] = w->cmd_ma[i];
    }
    out->hw_enable = (uint8_t)w->cmd_enable;

    switch (w->phase) {
    case PH_TREATING: out->state = PBM_STATE_TREATING; out->indicator = PBM_IND_TREATING; break;
    case PH_PAUSED: out->state = PBM_STATE_PAUSED; out->indicator = PBM_IND_PAUSED; break;
    case PH_COMPLETED: out->state = PBM_STATE_COMPLETED; out->indicator = PBM_IND_READY; break;
    case PH_STOPPED: out->state = PBM_STATE_STOPPED; out->indicator = PBM_IND_READY; break;
    case PH_REFUSED: out->state = PBM_STATE_REFUSED; out->indicator = PBM_IND_REFUSED; break;
    case PH_FAULT: out->state = PBM_STATE_FAULT; out->indicator = PBM_IND_FAULT; break;
    default: out->state = PBM_STATE_IDLE; out->indicator = PBM_IND_READY; break;
    }
    out->detail = (uint8_t)(w->phase << 4 | w->reason);
    out->dose_estimate_mj_cm2 = w->prog ? dose_mean_mj_cm2(w) : w->last_dose_mj_cm2;
    out->fault_code = w->fault_code;

    if (w->boot_record_pending) {
        w->boot_record_pending = 0;
        out->nvm_write = 1;
        out->nvm_offset = 0;
        out->nvm_len = 4;
        out->nvm_data[0] = NVM_MAGIC0;
        out->nvm_data[1] = NVM_MAGIC1;
        out->nvm_data[2] = (uint8_t)(w->boots & 0xFFu);
        out->nvm_data[3] = (uint8_t)(w->boots >> 8);
    }

    if (w->suspect || w->candidate != w->stable)
        out->next_wake_ms = SETTLE_TICK_MS;
    else if (w->phase == PH_TREATING)
        out->next_wake_ms = TREAT_TICK_MS;
    else if (w->phase == PH_PAUSED)
        out->next_wake_ms = PAUSE_WAKE_MS;
    else
        out->next_wake_ms = IDLE_WAKE_MS;
}

#ifndef WRAP_FW_NO_MAIN
#ifndef WRAP_FW_BUILD
#define WRAP_FW_BUILD ""
#endif

int main(void)
{
    static wrap state;
    pbm_firmware fw;
    fw.name = "acme c wrap";
    fw.version = "0.1.0";
    fw.build = WRAP_FW_BUILD;
    fw.ctx = &state;
    fw.supports_class = wrap_supports;
    fw.boot = wrap_boot;
    fw.step = wrap_step;
    fw.power_off = wrap_power_off;
    return pbm_serve_stdio(&fw) == 2 ? 1 : 0;
}
#endif
