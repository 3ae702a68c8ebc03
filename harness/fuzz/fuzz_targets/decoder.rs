//! Fuzz the streaming frame decoder: arbitrary bytes, fed in arbitrary chunks, in both
//! encodings, must never panic; every frame it accepts must re-encode to a frame that decodes to
//! the same value (binary and text agree).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../src/protocol.rs"]
#[expect(dead_code, reason = "the target uses the decoder side only")]
mod protocol;

use protocol::{Decoder, MAX_FRAME_LEN, MAX_LINE_LEN, Wire};

fuzz_target!(|data: &[u8]| {
    // The first byte picks the chunk size, so chunk boundaries are fuzzed too.
    let Some((&chunk, bytes)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(chunk).max(1);
    for wire in [Wire::Binary, Wire::Text] {
        let mut d = Decoder::new(wire);
        for mut piece in bytes.chunks(chunk) {
            while !piece.is_empty() {
                let (n, r) = d.feed(piece);
                assert!(n >= 1 && n <= piece.len());
                piece = &piece[n..];
                if let Ok(Some(rx)) = r {
                    let mut buf = [0u8; MAX_LINE_LEN];
                    let len = protocol::encode(&rx.frame, rx.seq, &mut buf[..MAX_FRAME_LEN])
                        .expect("an accepted frame re-encodes");
                    let mut again = Decoder::new(Wire::Binary);
                    let (used, back) = again.feed(&buf[..len]);
                    assert_eq!(used, len);
                    let back = back.expect("re-encoded frame decodes").expect("complete");
                    assert_eq!((back.seq, back.frame), (rx.seq, rx.frame));
                    let len = protocol::encode_text(&rx.frame, rx.seq, &mut buf)
                        .expect("an accepted frame re-encodes as text");
                    let mut again = Decoder::new(Wire::Text);
                    let (_, back) = again.feed(&buf[..len]);
                    let back = back.expect("text line decodes").expect("complete");
                    assert_eq!((back.seq, back.frame), (rx.seq, rx.frame));
                }
            }
        }
    }
});
