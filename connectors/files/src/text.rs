//! Text files read in large blocks of whole lines, transcoded to UTF-8 on the way.
//!
//! Each block ends just after a line break of the raw bytes (or at the end of the file), so
//! the raw offset after a block is exact and a read can checkpoint there and later go on from
//! it. Input that is UTF-8 passes through untouched (validated where values are parsed);
//! any other encoding is decoded block by block with `encoding_rs`, and bytes that are not
//! valid in it are replaced by U+FFFD with their position noted, so the record holding them
//! is reported as malformed.

use std::io::Read;

use encoding_rs::{DecoderResult, Encoding, UTF_8, UTF_16BE, UTF_16LE};

use crate::state::PrefixHasher;

/// Raw bytes gathered before a block is cut at its last line break. Checkpoints fall on
/// block ends, so this bounds how far past a batch's last row its checkpoint lies; small
/// enough that a checkpoint follows every batch closely, large enough that per-block work
/// stays negligible.
pub const BLOCK_SIZE: usize = 64 << 10;
/// A line longer than this is refused rather than buffered without end.
pub const MAX_LINE: usize = 256 << 20;

/// One block of decoded text.
#[derive(Debug)]
pub struct Block<'a> {
    /// UTF-8 (or, for UTF-8 input, unvalidated) text of whole lines.
    pub text: &'a [u8],
    /// Positions in `text` where invalid input was replaced.
    pub malformed: &'a [usize],
    /// The raw offset just after the block.
    pub raw_end: u64,
    /// Whether it is the file's last block.
    pub last: bool,
}

/// Reads a text file block by block.
pub struct TextReader {
    input: Box<dyn Read + Send>,
    encoding: &'static Encoding,
    decoder: Option<encoding_rs::Decoder>,
    raw: Vec<u8>,
    /// Bytes of `raw` handed out in the last block, dropped at the next call.
    consumed: usize,
    raw_start: u64,
    eof: bool,
    text: Vec<u8>,
    malformed: Vec<usize>,
    hasher: PrefixHasher,
    /// BOM bytes still to skip at the very start.
    bom_skip: usize,
}

impl TextReader {
    /// A reader of `input`, which starts at raw offset `start` of the file. `head` is the
    /// file's first bytes (enough to see a byte order mark; empty when `start` is 0: the
    /// input itself is then sniffed). `hasher` has hashed the bytes before `start`.
    pub fn new(
        input: Box<dyn Read + Send>,
        start: u64,
        head: &[u8],
        configured: &'static Encoding,
        hasher: PrefixHasher,
    ) -> std::io::Result<TextReader> {
        let mut reader = TextReader {
            input,
            encoding: configured,
            decoder: None,
            raw: Vec::with_capacity(2 * BLOCK_SIZE),
            consumed: 0,
            raw_start: start,
            eof: false,
            text: Vec::new(),
            malformed: Vec::new(),
            hasher,
            bom_skip: 0,
        };
        let sniff = if start == 0 {
            reader.fill(4)?;
            reader.raw[..reader.raw.len().min(4)].to_vec()
        } else {
            head.to_vec()
        };
        if let Some((encoding, bom)) = Encoding::for_bom(&sniff) {
            reader.encoding = encoding;
            if start == 0 {
                reader.bom_skip = bom;
            }
        }
        if reader.encoding != UTF_8 {
            reader.decoder = Some(reader.encoding.new_decoder_without_bom_handling());
        }
        Ok(reader)
    }

    /// The encoding in use (the configured one, or the one the BOM names).
    pub fn encoding(&self) -> &'static Encoding {
        self.encoding
    }

    /// The hash of every raw byte handed out so far.
    pub fn hasher(&self) -> &PrefixHasher {
        &self.hasher
    }

    /// Reads until `raw` holds at least `want` bytes or the input ends.
    fn fill(&mut self, want: usize) -> std::io::Result<()> {
        while self.raw.len() < want && !self.eof {
            let len = self.raw.len();
            let grow = (want - len).max(BLOCK_SIZE);
            self.raw.resize(len + grow, 0);
            match self.input.read(&mut self.raw[len..]) {
                Ok(0) => {
                    self.raw.truncate(len);
                    self.eof = true;
                }
                Ok(n) => self.raw.truncate(len + n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => self.raw.truncate(len),
                Err(e) => {
                    self.raw.truncate(len);
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Where the last line break of `raw` ends, in the raw encoding.
    fn cut(&self) -> Option<usize> {
        let raw = &self.raw;
        if self.encoding == UTF_16LE || self.encoding == UTF_16BE {
            let le = self.encoding == UTF_16LE;
            // Code units start at even file offsets.
            let mut i =
                if self.raw_start.is_multiple_of(2) == raw.len().is_multiple_of(2) { raw.len() } else { raw.len() - 1 };
            while i >= 2 {
                let (a, b) = (raw[i - 2], raw[i - 1]);
                if (le && a == b'\n' && b == 0) || (!le && a == 0 && b == b'\n') {
                    return Some(i);
                }
                i -= 2;
            }
            None
        } else {
            memchr::memrchr(b'\n', raw).map(|i| i + 1)
        }
    }

    /// The next block, or `None` after the last one.
    pub fn next_block(&mut self) -> Result<Option<Block<'_>>, String> {
        if self.consumed > 0 {
            self.raw.drain(..self.consumed);
            self.consumed = 0;
        }
        let mut want = BLOCK_SIZE;
        let cut = loop {
            self.fill(want).map_err(|e| format!("read error: {e}"))?;
            if self.eof {
                if self.raw.is_empty() {
                    return Ok(None);
                }
                break self.raw.len();
            }
            if let Some(cut) = self.cut() {
                break cut;
            }
            if self.raw.len() >= MAX_LINE {
                return Err(format!(
                    "a line longer than {} MiB near byte {}; is this a text file with line breaks (check format and encoding)?",
                    MAX_LINE >> 20,
                    self.raw_start
                ));
            }
            want = self.raw.len() * 2;
        };
        let last = self.eof && cut == self.raw.len();
        self.hasher.update(&self.raw[..cut]);
        self.consumed = cut;
        let skip = std::mem::take(&mut self.bom_skip).min(cut);
        self.raw_start += cut as u64;
        self.malformed.clear();
        let text: &[u8] = match self.decoder.as_mut() {
            None => &self.raw[skip..cut],
            Some(decoder) => {
                let src = &self.raw[skip..cut];
                self.text.clear();
                let mut pos = 0;
                loop {
                    let need = decoder
                        .max_utf8_buffer_length_without_replacement(src.len() - pos)
                        .unwrap_or(src.len() * 3 + 16);
                    let start = self.text.len();
                    self.text.resize(start + need + 3, 0);
                    let (result, read, written) =
                        decoder.decode_to_utf8_without_replacement(&src[pos..], &mut self.text[start..], last);
                    self.text.truncate(start + written);
                    pos += read;
                    match result {
                        DecoderResult::InputEmpty => break,
                        DecoderResult::OutputFull => {}
                        DecoderResult::Malformed(_, _) => {
                            self.malformed.push(self.text.len());
                            self.text.extend_from_slice("\u{FFFD}".as_bytes());
                        }
                    }
                }
                &self.text
            }
        };
        Ok(Some(Block { text, malformed: &self.malformed, raw_end: self.raw_start, last }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocks(raw: Vec<u8>, encoding: &'static Encoding) -> (String, Vec<usize>, &'static str) {
        let mut reader =
            TextReader::new(Box::new(std::io::Cursor::new(raw)), 0, &[], encoding, PrefixHasher::default()).unwrap();
        let mut text = Vec::new();
        let mut bad = Vec::new();
        while let Some(block) = reader.next_block().unwrap() {
            bad.extend(block.malformed.iter().map(|p| p + text.len()));
            text.extend_from_slice(block.text);
        }
        (String::from_utf8(text).unwrap(), bad, reader.encoding().name())
    }

    #[test]
    fn encodings_and_byte_order_marks() {
        let (cp1251, _, _) = encoding_rs::WINDOWS_1251.encode("имя;оценка\nАня;9\n");
        assert_eq!(blocks(cp1251.to_vec(), encoding_rs::WINDOWS_1251).0, "имя;оценка\nАня;9\n");
        let mut utf8_bom = vec![0xEF, 0xBB, 0xBF];
        utf8_bom.extend_from_slice("a,b\n".as_bytes());
        assert_eq!(blocks(utf8_bom, UTF_8), ("a,b\n".to_string(), vec![], "UTF-8"));
        // A BOM wins over the configured encoding.
        let mut utf16le = vec![0xFF, 0xFE];
        for unit in "ä,b\r\n1,2".encode_utf16() {
            utf16le.extend_from_slice(&unit.to_le_bytes());
        }
        assert_eq!(blocks(utf16le, encoding_rs::WINDOWS_1251), ("ä,b\r\n1,2".to_string(), vec![], "UTF-16LE"));
        let mut utf16be = vec![0xFE, 0xFF];
        for unit in "x\n😀\n".encode_utf16() {
            utf16be.extend_from_slice(&unit.to_be_bytes());
        }
        assert_eq!(blocks(utf16be, UTF_8).0, "x\n😀\n");
        // Bytes invalid in the encoding are replaced and their place noted.
        let (text, bad, _) = blocks(b"ok\n\xff\n".to_vec(), encoding_rs::SHIFT_JIS);
        assert_eq!(text, "ok\n\u{FFFD}\n");
        assert_eq!(bad, vec![3]);
    }

    #[test]
    fn blocks_end_at_line_breaks_and_offsets_are_exact() {
        let line = "0123456789,abcdefghij\n";
        let data: String = line.repeat(200_000);
        let mut reader = TextReader::new(
            Box::new(std::io::Cursor::new(data.clone().into_bytes())),
            0,
            &[],
            UTF_8,
            PrefixHasher::default(),
        )
        .unwrap();
        let mut count = 0;
        let mut end = 0;
        while let Some(block) = reader.next_block().unwrap() {
            assert!(block.text.ends_with(b"\n"));
            assert_eq!(block.text.len() % line.len(), 0);
            end = block.raw_end;
            count += 1;
        }
        assert!(count > 3, "{count} blocks");
        assert_eq!(end, data.len() as u64);
        assert_eq!(reader.hasher().len(), data.len() as u64);
    }
}
