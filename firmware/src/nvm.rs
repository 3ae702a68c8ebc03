//! The dose ledger in NVM: per-zone session history and the persisted uptime, in a record format
//! that survives power loss in the middle of a write.
//!
//! ## What "day" and "week" mean
//! The firmware has no wall clock. Its time base is *device uptime*: milliseconds the firmware
//! has been running, summed across power cycles (the uptime at the last persisted record plus
//! the ms counter since boot). A "day" is any window of 24 h of uptime, a "week" any 7 × 24 h,
//! both rolling. Uptime never runs faster than real time (time powered off and time since the
//! last persisted record are not counted), so a window of uptime always spans at least as much
//! real time: the caps are at least as strict as the same caps on a calendar.
//!
//! ## Record format (one slot, [`SLOT_SIZE`] = 128 bytes, little endian)
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 2 | magic `"PB"` |
//! | 2 | 1 | format version ([`VERSION`]) |
//! | 3 | 1 | device class code |
//! | 4 | 4 | sequence number (incremented per record) |
//! | 8 | 4 | uptime at writing, s |
//! | 12 | 4 | caps locked (history lost) until this uptime, s |
//! | 16 | 108 | 6 zones × 6 entries × (age u16 min before the record's uptime, 0xFFFF = empty; zone-mean fluence u8 in 0.25 J/cm², rounded up), newest first |
//! | 124 | 4 | CRC-32 (IEEE 802.3) of bytes 0..124 |
//!
//! Two slots at offsets 0 and 128 are written alternately, each as two 64-byte writes on
//! consecutive steps (the boundary's largest write). At boot the valid slot (magic, version,
//! class, CRC, ordering) with the higher sequence number wins, so a torn write (any prefix of the
//! 128 bytes) falls back to the previous complete record. That fallback never loses dose because
//! of the write order the state machine keeps: a session is reserved in the ledger (counted, with
//! its *target* fluence) and that record is committed *before* the first emission; the end record
//! then replaces the reservation with the delivered estimate. A torn end record leaves the
//! reservation, which is at least the delivered dose.
//!
//! A blank image (all 0xFF) is a new device: the firmware writes a genesis record (sequence 1) to
//! slot 0 at its first step; a torn genesis is recognised as such and treated as blank. Any other
//! image without a valid slot means the history is lost: the caps of every zone are locked for one
//! week of uptime ([`HISTORY_LOCKOUT_S`]), the longest window any cap looks back over.

use crate::boundary::{NVM_SIZE, NVM_WRITE_MAX, NvmWrite};
use crate::device::DeviceClass;
use crate::machine::Refusal;
use crate::programs::{CAP_POLICY, MAX_ZONES_PER_CLASS, Program};

/// Bytes per record slot.
pub const SLOT_SIZE: usize = 128;
/// Record slots in the image.
pub const SLOT_COUNT: usize = 2;
/// Session entries kept per zone: enough for [`CAP_POLICY`]'s weekly session count, so every
/// session inside a week's window is on record.
pub const ENTRIES_PER_ZONE: usize = 6;
/// Record magic.
pub const MAGIC: [u8; 2] = *b"PB";
/// Record format version.
pub const VERSION: u8 = 1;
/// Fluence resolution of a stored entry, mJ/cm² (entries round up: never under-record).
pub const FLUENCE_QUANTUM_MJ_CM2: u32 = 250;
/// Uptime in a day, s.
pub const DAY_S: u32 = 86_400;
/// Uptime in a week, s.
pub const WEEK_S: u32 = 7 * DAY_S;
/// How long the caps stay locked after the history is lost, s: a week, the longest cap window.
pub const HISTORY_LOCKOUT_S: u32 = WEEK_S;

const ENTRY_BYTES: usize = 3;
const ZONES_OFFSET: usize = 16;
const CRC_OFFSET: usize = ZONES_OFFSET + MAX_ZONES_PER_CLASS * ENTRIES_PER_ZONE * ENTRY_BYTES;
const EMPTY_AGE: u16 = 0xFFFF;
const _: () = assert!(CRC_OFFSET + 4 == SLOT_SIZE);
const _: () = assert!(SLOT_SIZE * SLOT_COUNT <= NVM_SIZE);
const _: () = assert!(SLOT_SIZE == 2 * NVM_WRITE_MAX);
const _: () = assert!(CAP_POLICY.max_sessions_per_week as usize <= ENTRIES_PER_ZONE);

/// One session on one zone, as the ledger keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionEntry {
    /// Uptime at which it ended (or, for a reservation, started), s.
    pub end_s: u32,
    /// Zone-mean fluence in [`FLUENCE_QUANTUM_MJ_CM2`] units, rounded up, saturating.
    pub fluence_q: u8,
}

/// Quantise a fluence for the ledger, rounding up (a ledger may over-state, never under-state).
pub fn quantize_fluence(mj_cm2: u32) -> u8 {
    mj_cm2.div_ceil(FLUENCE_QUANTUM_MJ_CM2).min(255) as u8
}

/// The per-zone session history and the cap lockout, in RAM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ledger {
    /// Sequence number of the last record encoded from this ledger (or loaded).
    pub seq: u32,
    /// Uptime of the loaded record, s (the device's uptime base at boot).
    pub uptime_s: u32,
    /// Caps are locked for every zone while uptime is below this, s.
    pub lockout_until_s: u32,
    /// Entries per zone slot ([`crate::programs::zone_slot`]), newest first.
    pub zones: [[Option<SessionEntry>; ENTRIES_PER_ZONE]; MAX_ZONES_PER_CLASS],
}

impl Ledger {
    /// An empty ledger (a new device).
    pub const fn fresh() -> Ledger {
        Ledger {
            seq: 0,
            uptime_s: 0,
            lockout_until_s: 0,
            zones: [[None; ENTRIES_PER_ZONE]; MAX_ZONES_PER_CLASS],
        }
    }

    /// Add a new newest entry on `slot`, dropping the oldest.
    pub fn push(&mut self, slot: usize, entry: SessionEntry) {
        let z = &mut self.zones[slot];
        z.copy_within(0..ENTRIES_PER_ZONE - 1, 1);
        z[0] = Some(entry);
    }

    /// Replace the newest entry of `slot` (a reservation becomes the delivered session).
    pub fn replace_newest(&mut self, slot: usize, entry: SessionEntry) {
        self.zones[slot][0] = Some(entry);
    }

    /// Drop the newest entry of `slot` (a reservation whose session never emitted).
    pub fn remove_newest(&mut self, slot: usize) {
        let z = &mut self.zones[slot];
        z.copy_within(1..ENTRIES_PER_ZONE, 0);
        z[ENTRIES_PER_ZONE - 1] = None;
    }

    /// Lock every zone's caps until `until_s` (history lost or clock implausible).
    pub fn lock_until(&mut self, until_s: u32) {
        self.lockout_until_s = self.lockout_until_s.max(until_s);
    }

    /// Whether a session of `program` on zone `slot` may start at uptime `now_s`; the first cap
    /// it would break otherwise. The program's target counts in full (it is what the session will
    /// deliver).
    pub fn cap_refusal(&self, slot: usize, now_s: u32, program: &Program) -> Option<Refusal> {
        self.cap_refusal_with_gap(slot, now_s, program, CAP_POLICY.min_gap_s)
    }

    /// [`Self::cap_refusal`] with the minimum gap between sessions on the zone given, s
    /// ([`CAP_POLICY`]'s for the reference firmware).
    pub fn cap_refusal_with_gap(
        &self,
        slot: usize,
        now_s: u32,
        program: &Program,
        min_gap_s: u32,
    ) -> Option<Refusal> {
        if now_s < self.lockout_until_s {
            return Some(Refusal::HistoryLost);
        }
        let mut day_sessions = 0u8;
        let mut week_sessions = 0u8;
        let mut day_mj = u64::from(program.target_mj_cm2);
        let mut week_mj = u64::from(program.target_mj_cm2);
        let mut newest_age = u32::MAX;
        for e in self.zones[slot].iter().flatten() {
            let age = now_s.saturating_sub(e.end_s);
            newest_age = newest_age.min(age);
            let mj = u64::from(e.fluence_q) * u64::from(FLUENCE_QUANTUM_MJ_CM2);
            if age < DAY_S {
                day_sessions += 1;
                day_mj += mj;
            }
            if age < WEEK_S {
                week_sessions += 1;
                week_mj += mj;
            }
        }
        if newest_age < min_gap_s {
            Some(Refusal::MinGap)
        } else if day_sessions >= CAP_POLICY.max_sessions_per_day {
            Some(Refusal::DailySessions)
        } else if week_sessions >= CAP_POLICY.max_sessions_per_week {
            Some(Refusal::WeeklySessions)
        } else if day_mj > u64::from(program.daily_cap_mj_cm2) {
            Some(Refusal::DailyFluence)
        } else if week_mj > u64::from(program.weekly_cap_mj_cm2) {
            Some(Refusal::WeeklyFluence)
        } else {
            None
        }
    }

    /// Total recorded zone-mean fluence on `slot` (all entries), mJ/cm².
    pub fn recorded_mj_cm2(&self, slot: usize) -> u32 {
        self.zones[slot]
            .iter()
            .flatten()
            .map(|e| u32::from(e.fluence_q) * FLUENCE_QUANTUM_MJ_CM2)
            .sum()
    }

    /// Encode as a record of this ledger's `seq` for `class` at uptime `uptime_s`.
    pub fn encode(&self, class: DeviceClass, uptime_s: u32) -> [u8; SLOT_SIZE] {
        let mut b = [0u8; SLOT_SIZE];
        b[0..2].copy_from_slice(&MAGIC);
        b[2] = VERSION;
        b[3] = class.as_u8();
        b[4..8].copy_from_slice(&self.seq.to_le_bytes());
        b[8..12].copy_from_slice(&uptime_s.to_le_bytes());
        b[12..16].copy_from_slice(&self.lockout_until_s.to_le_bytes());
        for (z, entries) in self.zones.iter().enumerate() {
            for (i, e) in entries.iter().enumerate() {
                let at = ZONES_OFFSET + (z * ENTRIES_PER_ZONE + i) * ENTRY_BYTES;
                let (age, q) = match e {
                    // Ages round down, so the decoded end is never earlier than the true one.
                    Some(e) => (
                        (uptime_s.saturating_sub(e.end_s) / 60).min(u32::from(EMPTY_AGE - 1))
                            as u16,
                        e.fluence_q,
                    ),
                    None => (EMPTY_AGE, 0),
                };
                b[at..at + 2].copy_from_slice(&age.to_le_bytes());
                b[at + 2] = q;
            }
        }
        let crc = crc32(&b[..CRC_OFFSET]);
        b[CRC_OFFSET..].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Decode a record, or `None` if it is not a complete, consistent record for `class`.
    pub fn decode(b: &[u8], class: DeviceClass) -> Option<Ledger> {
        Ledger::decode_checked(b, class, true)
    }

    /// [`Self::decode`], with the CRC check skipped when `check_crc` is false (only the tests'
    /// seeded bugs do that: it lets a torn record through).
    pub fn decode_checked(b: &[u8], class: DeviceClass, check_crc: bool) -> Option<Ledger> {
        if b.len() != SLOT_SIZE || b[0..2] != MAGIC || b[2] != VERSION || b[3] != class.as_u8() {
            return None;
        }
        let word = |at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
        if check_crc && word(CRC_OFFSET) != crc32(&b[..CRC_OFFSET]) {
            return None;
        }
        let mut l = Ledger::fresh();
        l.seq = word(4);
        l.uptime_s = word(8);
        l.lockout_until_s = word(12);
        if l.lockout_until_s > l.uptime_s.saturating_add(HISTORY_LOCKOUT_S) {
            return None;
        }
        for (z, entries) in l.zones.iter_mut().enumerate() {
            let mut last_age = 0u16;
            let mut ended = false;
            for (i, e) in entries.iter_mut().enumerate() {
                let at = ZONES_OFFSET + (z * ENTRIES_PER_ZONE + i) * ENTRY_BYTES;
                let age = u16::from_le_bytes([b[at], b[at + 1]]);
                if age == EMPTY_AGE {
                    ended = true;
                    continue;
                }
                // Newest first, no entry after an empty one: anything else was not written by us.
                if ended || age < last_age {
                    return None;
                }
                last_age = age;
                *e = Some(SessionEntry {
                    end_s: l.uptime_s.saturating_sub(u32::from(age) * 60),
                    fluence_q: b[at + 2],
                });
            }
        }
        Some(l)
    }
}

/// What the boot-time load found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadStatus {
    /// Blank image (or a torn genesis record): a new device.
    Blank,
    /// A valid record was restored from this slot.
    Restored {
        /// Slot index.
        slot: u8,
    },
    /// No valid record in a non-blank image: history lost, caps locked.
    HistoryLost,
}

/// Load the ledger from the image as it is on the chip. Caps are locked for
/// [`HISTORY_LOCKOUT_S`] when the history is lost.
pub fn load(class: DeviceClass, nvm: &[u8; NVM_SIZE]) -> (Ledger, LoadStatus) {
    load_checked(class, nvm, true)
}

/// [`load`], checking each record's CRC only when `check_crc` is true (false only in the tests'
/// seeded bugs).
pub fn load_checked(
    class: DeviceClass,
    nvm: &[u8; NVM_SIZE],
    check_crc: bool,
) -> (Ledger, LoadStatus) {
    let mut best: Option<(Ledger, u8)> = None;
    for s in 0..SLOT_COUNT {
        if let Some(l) = Ledger::decode_checked(slot_bytes(nvm, s), class, check_crc)
            && best.is_none_or(|(b, _)| l.seq > b.seq)
        {
            best = Some((l, s as u8));
        }
    }
    if let Some((l, slot)) = best {
        return (l, LoadStatus::Restored { slot });
    }
    let genesis = genesis(class);
    let blank_or_torn_genesis = is_prefix_over_blank(slot_bytes(nvm, 0), &genesis)
        && slot_bytes(nvm, 1).iter().all(|&b| b == 0xFF)
        && nvm[SLOT_SIZE * SLOT_COUNT..].iter().all(|&b| b == 0xFF);
    if blank_or_torn_genesis {
        (Ledger::fresh(), LoadStatus::Blank)
    } else {
        let mut l = Ledger::fresh();
        l.lock_until(HISTORY_LOCKOUT_S);
        (l, LoadStatus::HistoryLost)
    }
}

fn slot_bytes(nvm: &[u8; NVM_SIZE], slot: usize) -> &[u8] {
    &nvm[slot * SLOT_SIZE..(slot + 1) * SLOT_SIZE]
}

/// The first record a new device writes (slot 0, sequence 1, uptime 0, no history).
pub fn genesis(class: DeviceClass) -> [u8; SLOT_SIZE] {
    let mut l = Ledger::fresh();
    l.seq = 1;
    l.encode(class, 0)
}

/// True if `bytes` is some prefix of `record` followed by erased (0xFF) bytes.
fn is_prefix_over_blank(bytes: &[u8], record: &[u8]) -> bool {
    let written = bytes.iter().rposition(|&b| b != 0xFF).map_or(0, |i| i + 1);
    bytes[..written] == record[..written]
}

/// Writes ledger records, one 64-byte half per step, alternating slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NvmWriter {
    image: [u8; SLOT_SIZE],
    target_slot: u8,
    /// Next half of `image` to write, when a record is in flight.
    in_flight: Option<u8>,
    /// Slot holding the newest record on the chip, if any.
    last_slot: Option<u8>,
    requested: u32,
    snapshot_of: u32,
    committed: u32,
}

impl NvmWriter {
    /// A writer that knows which slot holds the newest record.
    pub fn new(last_slot: Option<u8>) -> NvmWriter {
        NvmWriter {
            image: [0xFF; SLOT_SIZE],
            target_slot: 0,
            in_flight: None,
            last_slot,
            requested: 0,
            snapshot_of: 0,
            committed: 0,
        }
    }

    /// Ask for the ledger as it is now to be persisted; returns a ticket for [`Self::committed`].
    pub fn request(&mut self) -> u32 {
        self.requested += 1;
        self.requested
    }

    /// True once every request up to `ticket` has had a complete record handed to the NVM.
    pub fn committed(&self, ticket: u32) -> bool {
        self.committed >= ticket
    }

    /// True while a record is in flight or requested.
    pub fn busy(&self) -> bool {
        self.in_flight.is_some() || self.requested > self.committed
    }

    /// This step's write, if any: the second half of the record in flight, or the first half of
    /// a new record of `ledger` (its `seq` incremented) at uptime `uptime_s`.
    #[inline]
    pub fn poll(
        &mut self,
        ledger: &mut Ledger,
        class: DeviceClass,
        uptime_s: u32,
    ) -> Option<NvmWrite> {
        // Nearly every step has nothing to write: decided inline, the write itself is not.
        if !self.busy() {
            return None;
        }
        self.write_next(ledger, class, uptime_s)
    }

    /// The write of [`Self::poll`] when [`Self::busy`].
    #[inline(never)]
    fn write_next(
        &mut self,
        ledger: &mut Ledger,
        class: DeviceClass,
        uptime_s: u32,
    ) -> Option<NvmWrite> {
        let half = match self.in_flight {
            Some(h) => h,
            None if self.requested > self.committed => {
                ledger.seq = ledger.seq.wrapping_add(1);
                self.image = ledger.encode(class, uptime_s);
                self.snapshot_of = self.requested;
                self.target_slot = match self.last_slot {
                    Some(s) => 1 - s,
                    None => 0,
                };
                0
            }
            None => return None,
        };
        let start = usize::from(half) * NVM_WRITE_MAX;
        let mut data = [0u8; NVM_WRITE_MAX];
        data.copy_from_slice(&self.image[start..start + NVM_WRITE_MAX]);
        let offset = (usize::from(self.target_slot) * SLOT_SIZE + start) as u16;
        if usize::from(half) + 1 < SLOT_SIZE / NVM_WRITE_MAX {
            self.in_flight = Some(half + 1);
        } else {
            self.in_flight = None;
            self.last_slot = Some(self.target_slot);
            self.committed = self.snapshot_of;
        }
        Some(NvmWrite {
            offset,
            len: NVM_WRITE_MAX as u8,
            data,
        })
    }
}

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320, init and final XOR 0xFFFFFFFF).
///
/// Eight bytes per step ("slicing-by-8", Kounavis and Berry 2005): the same remainder as the
/// byte-at-a-time table loop (tested against it), at a quarter of the instructions; an idle
/// device persists its uptime every half hour, and the record's CRC was a tenth of an idle wake.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    let mut blocks = bytes.chunks_exact(8);
    for block in &mut blocks {
        let lo = crc ^ u32::from_le_bytes([block[0], block[1], block[2], block[3]]);
        let t = &CRC_TABLES;
        crc = t[7][(lo & 0xFF) as usize]
            ^ t[6][((lo >> 8) & 0xFF) as usize]
            ^ t[5][((lo >> 16) & 0xFF) as usize]
            ^ t[4][(lo >> 24) as usize]
            ^ t[3][usize::from(block[4])]
            ^ t[2][usize::from(block[5])]
            ^ t[1][usize::from(block[6])]
            ^ t[0][usize::from(block[7])];
    }
    for &b in blocks.remainder() {
        crc = CRC_TABLE[((crc ^ u32::from(b)) & 0xFF) as usize] ^ (crc >> 8);
    }
    !crc
}

/// `CRC_TABLES[k][i]`: the remainder of byte `i` followed by `k` zero bytes (`CRC_TABLES[0]` is
/// [`CRC_TABLE`]), for [`crc32`]'s eight bytes per step.
static CRC_TABLES: [[u32; 256]; 8] = {
    let mut t = [[0u32; 256]; 8];
    t[0] = CRC_TABLE;
    let mut k = 1;
    while k < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = t[k - 1][i];
            t[k][i] = (prev >> 8) ^ CRC_TABLE[(prev & 0xFF) as usize];
            i += 1;
        }
        k += 1;
    }
    t
};

const CRC_TABLE: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::programs::programs;

    #[test]
    fn crc32_check_value() {
        // The standard check value of CRC-32/ISO-HDLC.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn crc32_is_the_bytewise_loop() {
        let bytewise = |bytes: &[u8]| {
            let mut crc = 0xFFFF_FFFFu32;
            for &b in bytes {
                crc = CRC_TABLE[((crc ^ u32::from(b)) & 0xFF) as usize] ^ (crc >> 8);
            }
            !crc
        };
        // Every length up to two records and a deterministic walk of byte values.
        let mut data = [0u8; 2 * SLOT_SIZE];
        let mut x = 0x9E37_79B9u32;
        for b in data.iter_mut() {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            *b = (x >> 24) as u8;
        }
        for len in 0..=data.len() {
            for start in [0, 1, 3] {
                let end = len.min(data.len() - start) + start;
                let bytes = &data[start..end];
                assert_eq!(crc32(bytes), bytewise(bytes), "{start}..{end}");
            }
        }
    }

    fn ledger_with(entries: &[(u32, u32)]) -> Ledger {
        let mut l = Ledger::fresh();
        for &(end_s, mj) in entries.iter().rev() {
            l.push(
                0,
                SessionEntry {
                    end_s,
                    fluence_q: quantize_fluence(mj),
                },
            );
        }
        l
    }

    #[test]
    fn cap_checks() {
        let wrap = &programs(DeviceClass::Wrap)[0]; // 9 J/cm² target, 19.8 daily, 49.5 weekly
        let h = 3600;
        let d = DAY_S;
        /// (history newest first as (end uptime s, mJ/cm²), now s, lockout until s, expected)
        type Case<'a> = (&'a [(u32, u32)], u32, u32, Option<Refusal>);
        let cases: &[Case] = &[
            (&[], 0, 0, None),
            (&[], 10, 100, Some(Refusal::HistoryLost)),
            (&[], 100, 100, None),
            (
                &[(10 * h, 9000)],
                10 * h + 6 * h - 1,
                0,
                Some(Refusal::MinGap),
            ),
            (&[(10 * h, 9000)], 16 * h, 0, None),
            (
                &[(20 * h, 9000), (10 * h, 9000)],
                26 * h,
                0,
                Some(Refusal::DailySessions),
            ),
            (&[(20 * h, 9000), (10 * h, 9000)], 10 * h + d, 0, None),
            (
                &[(20 * h, 9000), (10 * h, 3000)],
                10 * h + d - 1,
                0,
                Some(Refusal::DailySessions),
            ),
            (&[(20 * h, 11000)], 27 * h, 0, Some(Refusal::DailyFluence)),
            (&[(20 * h, 10750)], 27 * h, 0, None),
            (
                &[
                    (6 * d, 1000),
                    (5 * d, 1000),
                    (4 * d, 1000),
                    (3 * d, 1000),
                    (2 * d, 1000),
                    (d, 1000),
                ],
                7 * d,
                0,
                Some(Refusal::WeeklySessions),
            ),
            (
                &[
                    (6 * d, 1000),
                    (5 * d, 1000),
                    (4 * d, 1000),
                    (3 * d, 1000),
                    (2 * d, 1000),
                    (d, 1000),
                ],
                8 * d,
                0,
                None,
            ),
            (
                &[
                    (6 * d, 9000),
                    (5 * d, 9000),
                    (4 * d, 9000),
                    (3 * d, 9000),
                    (2 * d, 9000),
                ],
                7 * d,
                0,
                Some(Refusal::WeeklyFluence),
            ),
            (
                &[(6 * d, 9000), (5 * d, 9000), (4 * d, 9000), (3 * d, 9000)],
                7 * d,
                0,
                None,
            ),
        ];
        for (i, (hist, now, lock, want)) in cases.iter().enumerate() {
            let mut l = ledger_with(hist);
            l.lockout_until_s = *lock;
            assert_eq!(l.cap_refusal(0, *now, wrap), *want, "case {i}");
        }
    }

    #[test]
    fn encode_decode_round_trip_rounds_strictly() {
        let mut l = ledger_with(&[(7000, 9000), (100, 4100)]);
        l.seq = 7;
        l.lockout_until_s = 9000;
        let b = l.encode(DeviceClass::Pen, 7259);
        let back = Ledger::decode(&b, DeviceClass::Pen).expect("valid");
        assert_eq!(
            (back.seq, back.uptime_s, back.lockout_until_s),
            (7, 7259, 9000)
        );
        // Ages round down to whole minutes: the decoded end is the same or later (stricter).
        assert_eq!(
            back.zones[0][0],
            Some(SessionEntry {
                end_s: 7259 - 240,
                fluence_q: 36
            })
        );
        assert_eq!(
            back.zones[0][1],
            Some(SessionEntry {
                end_s: 7259 - 7140,
                fluence_q: 17
            })
        );
        assert_eq!(back.zones[0][2], None);
        assert_eq!(
            Ledger::decode(&b, DeviceClass::Wrap),
            None,
            "another class's record"
        );
    }

    #[test]
    fn corruption_is_detected() {
        let mut l = ledger_with(&[(50, 9000)]);
        l.seq = 3;
        let good = l.encode(DeviceClass::Wrap, 100);
        for i in 0..SLOT_SIZE {
            for bit in [0x01u8, 0x80] {
                let mut b = good;
                b[i] ^= bit;
                assert_eq!(
                    Ledger::decode(&b, DeviceClass::Wrap),
                    None,
                    "byte {i} bit {bit:#x}"
                );
            }
        }
    }

    #[test]
    fn writer_alternates_slots_in_halves() {
        let mut l = Ledger::fresh();
        let mut w = NvmWriter::new(None);
        assert_eq!(w.poll(&mut l, DeviceClass::Wrap, 0), None);
        let t = w.request();
        let a = w.poll(&mut l, DeviceClass::Wrap, 5).unwrap();
        assert!(!w.committed(t) && w.busy());
        let b = w.poll(&mut l, DeviceClass::Wrap, 5).unwrap();
        assert!(w.committed(t) && !w.busy());
        assert_eq!((a.offset, b.offset, l.seq), (0, 64, 1));
        w.request();
        let c = w.poll(&mut l, DeviceClass::Wrap, 6).unwrap();
        assert_eq!((c.offset, l.seq), (128, 2));
        let mut img = [0xFFu8; NVM_SIZE];
        for wr in [a, b, c, w.poll(&mut l, DeviceClass::Wrap, 6).unwrap()] {
            img[usize::from(wr.offset)..usize::from(wr.offset) + wr.bytes().len()]
                .copy_from_slice(wr.bytes());
        }
        let (back, status) = load(DeviceClass::Wrap, &img);
        assert_eq!(
            (back.seq, back.uptime_s, status),
            (2, 6, LoadStatus::Restored { slot: 1 })
        );
    }

    #[test]
    fn load_cases() {
        let g = genesis(DeviceClass::Wrap);
        let blank = [0xFFu8; NVM_SIZE];
        let mut torn_genesis = blank;
        torn_genesis[..40].copy_from_slice(&g[..40]);
        let mut full_genesis = blank;
        full_genesis[..SLOT_SIZE].copy_from_slice(&g);
        let mut garbage = blank;
        garbage[200] = 0;
        let zeros = [0u8; NVM_SIZE];
        let cases: &[(&[u8; NVM_SIZE], LoadStatus, u32)] = &[
            (&blank, LoadStatus::Blank, 0),
            (&torn_genesis, LoadStatus::Blank, 0),
            (&full_genesis, LoadStatus::Restored { slot: 0 }, 0),
            (&garbage, LoadStatus::HistoryLost, HISTORY_LOCKOUT_S),
            (&zeros, LoadStatus::HistoryLost, HISTORY_LOCKOUT_S),
        ];
        for (i, (img, status, lock)) in cases.iter().enumerate() {
            let (l, s) = load(DeviceClass::Wrap, img);
            assert_eq!((s, l.lockout_until_s), (*status, *lock), "case {i}");
        }
    }
}
