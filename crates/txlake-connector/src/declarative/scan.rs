//! Finding where a JSON object or array ends without parsing it: the record selector's hot
//! loop. Records are mostly short strings, so a byte-at-a-time loop spends its time on
//! mispredicted branches at every quote. Instead each 64-byte block becomes bit masks
//! (quotes, openers, closers); a prefix XOR over the quote mask marks what lies inside
//! strings, and only the few structural characters outside strings are visited. A block
//! with a backslash takes the exact byte loop, so escapes never need bit tricks. The masks
//! come from SSE2 compares (part of every x86_64 CPU); other targets use the byte loop.

const BLOCK: usize = 64;

/// Where the object or array starting at `start` ends (one past its closing bracket), or
/// `None` when the text ends first. Brackets are only counted, not matched: arrow-json
/// validates the records as it decodes them.
pub fn container_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut state = State { depth: 0, in_string: false, escaped: false };
    let mut at = start;
    while at + BLOCK <= bytes.len() {
        let block: &[u8; BLOCK] = bytes[at..at + BLOCK].try_into().expect("a 64-byte block");
        let found = if state.escaped { None } else { masks(block) };
        let end = match found {
            Some(masks) => state.block(&masks),
            None => state.bytes(block),
        };
        if let Some(offset) = end {
            return Some(at + offset + 1);
        }
        at += BLOCK;
    }
    state.bytes(&bytes[at..]).map(|offset| at + offset + 1)
}

/// The scan's position between blocks.
struct State {
    depth: usize,
    in_string: bool,
    /// The previous block ended with a backslash inside a string.
    escaped: bool,
}

/// One block's characters of interest, bit `i` for byte `i`.
struct Masks {
    quotes: u64,
    openers: u64,
    closers: u64,
}

/// The block's masks, or `None` when it holds a backslash.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)] // the one place: SIMD loads; the workspace denies unsafe elsewhere
fn masks(block: &[u8; BLOCK]) -> Option<Masks> {
    use std::arch::x86_64::{__m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8};
    let (mut quotes, mut openers, mut closers, mut backslashes) = (0u64, 0u64, 0u64, 0u64);
    // SAFETY: SSE2 is part of the x86_64 baseline, and each load reads 16 bytes inside `block`.
    unsafe {
        let splat = |b: u8| _mm_set1_epi8(b as i8);
        let (quote, backslash) = (splat(b'"'), splat(b'\\'));
        let (brace, bracket, close_brace, close_bracket) = (splat(b'{'), splat(b'['), splat(b'}'), splat(b']'));
        for lane in 0..BLOCK / 16 {
            let chunk = _mm_loadu_si128(block.as_ptr().add(lane * 16).cast::<__m128i>());
            let bits = |m| u64::from(_mm_movemask_epi8(m) as u16) << (lane * 16);
            quotes |= bits(_mm_cmpeq_epi8(chunk, quote));
            backslashes |= bits(_mm_cmpeq_epi8(chunk, backslash));
            openers |= bits(_mm_or_si128(_mm_cmpeq_epi8(chunk, brace), _mm_cmpeq_epi8(chunk, bracket)));
            closers |= bits(_mm_or_si128(_mm_cmpeq_epi8(chunk, close_brace), _mm_cmpeq_epi8(chunk, close_bracket)));
        }
    }
    (backslashes == 0).then_some(Masks { quotes, openers, closers })
}

/// Elsewhere the byte loop scans every block.
#[cfg(not(target_arch = "x86_64"))]
fn masks(_block: &[u8; BLOCK]) -> Option<Masks> {
    None
}

/// Bit `i` set when an odd number of bits at or below `i` are set: with quote bits, the
/// bytes from an opening quote up to (not including) its closing quote.
fn prefix_xor(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

impl State {
    /// Scans a block without backslashes through its masks.
    fn block(&mut self, masks: &Masks) -> Option<usize> {
        let inside = prefix_xor(masks.quotes) ^ if self.in_string { u64::MAX } else { 0 };
        self.in_string = inside >> 63 == 1;
        let mut structural = (masks.openers | masks.closers) & !inside;
        while structural != 0 {
            let offset = structural.trailing_zeros() as usize;
            structural &= structural - 1;
            if masks.openers >> offset & 1 == 1 {
                self.depth += 1;
            } else {
                self.depth = self.depth.saturating_sub(1);
                if self.depth == 0 {
                    return Some(offset);
                }
            }
        }
        None
    }

    /// Scans byte by byte (blocks with escapes, and the tail).
    fn bytes(&mut self, bytes: &[u8]) -> Option<usize> {
        for (offset, &b) in bytes.iter().enumerate() {
            if self.escaped {
                self.escaped = false;
            } else if self.in_string {
                match b {
                    b'\\' => self.escaped = true,
                    b'"' => self.in_string = false,
                    _ => {}
                }
            } else {
                match b {
                    b'"' => self.in_string = true,
                    b'{' | b'[' => self.depth += 1,
                    b'}' | b']' => {
                        self.depth = self.depth.saturating_sub(1);
                        if self.depth == 0 {
                            return Some(offset);
                        }
                    }
                    _ => {}
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte loop alone, the reference the block scan must agree with.
    fn reference(bytes: &[u8], start: usize) -> Option<usize> {
        let mut state = State { depth: 0, in_string: false, escaped: false };
        state.bytes(&bytes[start..]).map(|offset| start + offset + 1)
    }

    #[test]
    fn finds_the_end_of_nested_containers() {
        let text = br#"{"a":[1,{"b":"}]"}],"c":"x\"}"} ,{"next":1}"#;
        let end = container_end(text, 0).unwrap();
        assert_eq!(&text[..end], br#"{"a":[1,{"b":"}]"}],"c":"x\"}"}"#);
        assert_eq!(container_end(br#"{"a":"unterminated}"#, 0), None);
        assert_eq!(container_end(b"[[1,2],[3]]", 0), Some(11));
    }

    #[test]
    fn agrees_with_the_byte_loop_across_block_boundaries() {
        // Strings, escapes (a backslash pair, an escaped quote) and brackets inside strings,
        // shifted through every offset so each straddles a block boundary somewhere.
        let record =
            r#"{"id":7,"name":"a \"quoted\" {name}","path":"C:\\dir\\","tags":["x]","y"],"geo":{"lat":1.5},"n":null}"#;
        let records = [record; 3].join(",");
        for pad in 0..130 {
            let padded = format!("{}[{records}]", " ".repeat(pad)).into_bytes();
            assert_eq!(container_end(&padded, pad), reference(&padded, pad), "pad {pad}");
            assert_eq!(container_end(&padded, pad), Some(padded.len()), "pad {pad}");
            assert_eq!(container_end(&padded, pad + 1), Some(pad + 1 + record.len()), "pad {pad}, first record");
            for cut in (pad..padded.len()).step_by(7) {
                assert_eq!(container_end(&padded[..cut], pad), None, "cut at {cut}");
            }
        }
    }

    #[test]
    fn a_backslash_at_a_block_edge_escapes_the_next_block_s_first_byte() {
        // `"…\` ends the first block; the escaped quote opens the second.
        let mut text = String::from("{\"k\":\"");
        text.push_str(&"x".repeat(BLOCK - text.len() - 1));
        text.push('\\');
        text.push_str("\"}\"}");
        assert_eq!(text.as_bytes()[BLOCK - 1], b'\\');
        assert_eq!(container_end(text.as_bytes(), 0), Some(text.len()));
    }
}
