//! The NVM ledger on frames: a torn write at every byte offset of every record never loses or
//! rolls back recorded dose; CRC corruption falls back to the other slot; both slots bad locks
//! the caps; blank is a new device.

use firmware::boundary::{NVM_SIZE, NvmWrite, SessionState};
use firmware::machine::{Phase, Refusal};
use firmware::nvm::{HISTORY_LOCKOUT_S, Ledger, LoadStatus, SLOT_SIZE, load};
use firmware::{DeviceClass, Firmware};

use crate::rig::Rig;

const HOUR_MS: u64 = 3_600_000;

/// One complete record as the firmware wrote it: the image before it, its slot offset, its bytes.
struct Record {
    before: [u8; NVM_SIZE],
    offset: usize,
    bytes: [u8; SLOT_SIZE],
}

/// Split the write log into records (each two consecutive 64-byte halves of one slot).
fn records(writes: &[NvmWrite]) -> Vec<Record> {
    assert_eq!(writes.len() % 2, 0, "a record is two writes");
    let mut image = [0xFFu8; NVM_SIZE];
    let mut out = Vec::new();
    for pair in writes.chunks(2) {
        let offset = usize::from(pair[0].offset);
        assert_eq!(usize::from(pair[1].offset), offset + 64, "halves in order");
        let mut bytes = [0u8; SLOT_SIZE];
        bytes[..64].copy_from_slice(pair[0].bytes());
        bytes[64..].copy_from_slice(pair[1].bytes());
        out.push(Record {
            before: image,
            offset,
            bytes,
        });
        image[offset..offset + SLOT_SIZE].copy_from_slice(&bytes);
    }
    out
}

/// A wrap's history: two completed sessions on zone 0 and one on zone 1, six hours apart, then
/// an idle half hour (the periodic uptime record).
fn history() -> (Rig, Vec<u32>) {
    let mut rig = Rig::new(DeviceClass::Wrap);
    let mut delivered = Vec::new();
    for (program, wait) in [(0u8, 0), (1, 0), (0, 6 * HOUR_MS)] {
        rig.jump(wait);
        rig.start(program);
        assert!(rig.run_until_state(SessionState::Completed, 1_300_000));
        delivered.push(rig.out.dose_estimate_mj_cm2);
        rig.run_for(100);
    }
    rig.run_for(31 * 60_000);
    (rig, delivered)
}

fn zone_fluence(l: &Ledger, slot: usize) -> u32 {
    l.recorded_mj_cm2(slot)
}

#[test]
fn torn_write_at_every_offset_of_every_record() {
    let (rig, delivered) = history();
    let recs = records(&rig.writes);
    // genesis, 3 × (reservation, end), at least one uptime record.
    assert!(recs.len() >= 8, "{} records", recs.len());
    let mut checked_end_records = 0;
    for (k, rec) in recs.iter().enumerate() {
        let (prev, prev_status) = load(DeviceClass::Wrap, &rec.before);
        let mut after_img = rec.before;
        after_img[rec.offset..rec.offset + SLOT_SIZE].copy_from_slice(&rec.bytes);
        let (after, _) = load(DeviceClass::Wrap, &after_img);
        // A record that turns a reservation into a delivered session (fluence goes down).
        let is_end = (0..6).any(|z| zone_fluence(&after, z) < zone_fluence(&prev, z));
        for p in 0..=SLOT_SIZE {
            let mut img = rec.before;
            img[rec.offset..rec.offset + p].copy_from_slice(&rec.bytes[..p]);
            let fw = Firmware::boot(DeviceClass::Wrap, &img);
            let got = fw.ledger();
            let want = if p == SLOT_SIZE { &after } else { &prev };
            assert_ne!(
                fw.load_status(),
                LoadStatus::HistoryLost,
                "record {k} torn at {p}"
            );
            assert_eq!(
                (got.seq, got.uptime_s, got.zones),
                (want.seq, want.uptime_s, want.zones),
                "record {k} torn at {p} (before: {prev_status:?})"
            );
            assert!(got.uptime_s >= prev.uptime_s, "uptime rolled back");
            for z in 0..6 {
                // Never below what the last complete record held, except where a reservation
                // became the (smaller) delivered dose, which the complete end record itself says.
                assert!(
                    zone_fluence(got, z) >= zone_fluence(&after, z).min(zone_fluence(&prev, z)),
                    "record {k} torn at {p}: zone {z}"
                );
            }
        }
        if is_end {
            checked_end_records += 1;
            // Torn anywhere before its last byte, the reservation stands for the session: at least
            // the dose delivered, and it still counts against the gap.
            let session_dose = delivered[checked_end_records - 1];
            let zone = if checked_end_records == 2 { 1 } else { 0 };
            assert!(
                zone_fluence(&prev, zone) >= zone_fluence(&after, zone)
                    && zone_fluence(&after, zone) >= session_dose.min(zone_fluence(&after, zone))
            );
            let mut img = rec.before;
            img[rec.offset..rec.offset + 70].copy_from_slice(&rec.bytes[..70]);
            let mut torn = Rig::with_nvm(DeviceClass::Wrap, img, 0);
            torn.start(zone as u8);
            assert!(
                matches!(
                    torn.phase(),
                    Phase::Refused(Refusal::MinGap | Refusal::DailySessions)
                ),
                "end record {k} torn: {:?}",
                torn.phase()
            );
        }
    }
    assert_eq!(checked_end_records, 3);
}

#[test]
fn corruption_and_blank_images() {
    let (rig, _) = history();
    let image = rig.nvm;
    let (newest, status) = load(DeviceClass::Wrap, &image);
    let LoadStatus::Restored { slot } = status else {
        panic!("{status:?}")
    };
    let slot = usize::from(slot);
    let other = 1 - slot;
    // (name, image, expected status, expected seq, expected lockout)
    let mut newest_bad = image;
    newest_bad[slot * SLOT_SIZE + 40] ^= 0x10;
    let mut both_bad = newest_bad;
    both_bad[other * SLOT_SIZE + 9] ^= 0x01;
    let mut crc_bad = image;
    crc_bad[slot * SLOT_SIZE + SLOT_SIZE - 1] ^= 0xFF;
    let cases: [(&str, [u8; NVM_SIZE], LoadStatus, u32, u32); 5] = [
        (
            "intact",
            image,
            LoadStatus::Restored { slot: slot as u8 },
            newest.seq,
            0,
        ),
        (
            "newest slot corrupt",
            newest_bad,
            LoadStatus::Restored { slot: other as u8 },
            newest.seq - 1,
            0,
        ),
        (
            "newest CRC corrupt",
            crc_bad,
            LoadStatus::Restored { slot: other as u8 },
            newest.seq - 1,
            0,
        ),
        (
            "both slots corrupt",
            both_bad,
            LoadStatus::HistoryLost,
            0,
            HISTORY_LOCKOUT_S,
        ),
        ("blank", [0xFF; NVM_SIZE], LoadStatus::Blank, 0, 0),
    ];
    for (name, img, status, seq, lockout) in cases {
        let fw = Firmware::boot(DeviceClass::Wrap, &img);
        assert_eq!(
            (
                fw.load_status(),
                fw.ledger().seq,
                fw.ledger().lockout_until_s
            ),
            (status, seq, lockout),
            "{name}"
        );
    }
    // Both bad: every zone refuses; blank: a new device starts.
    let mut dead = Rig::with_nvm(DeviceClass::Wrap, both_bad, 0);
    dead.start(4);
    assert_eq!(dead.phase(), Phase::Refused(Refusal::HistoryLost));
    let mut new = Rig::with_nvm(DeviceClass::Wrap, [0xFF; NVM_SIZE], 0);
    new.start(4);
    assert_eq!(new.phase(), Phase::Treating);
}

/// The uptime survives power cycles (persisted at rest every 30 min and with every record).
#[test]
fn uptime_is_persisted() {
    let mut rig = Rig::new(DeviceClass::Pad);
    // (rig ms to run, then reboot; expected uptime after boot, s)
    let steps = [
        (10 * 60_000u64, 0u32),
        (40 * 60_000, 30 * 60),
        (31 * 60_000, 60 * 60),
    ];
    for (run, want_s) in steps {
        rig.run_for(run);
        rig.reboot();
        assert_eq!(rig.fw.ledger().uptime_s, want_s, "after running {run} ms");
    }
}
