//! The last lines a source wrote to stderr, bounded in lines and bytes, for error messages.

use std::collections::VecDeque;
use std::fmt;

/// The most recent lines of a stream of text, at most `max_lines` and about `max_bytes`.
#[derive(Debug, Clone)]
pub struct Tail {
    lines: VecDeque<String>,
    bytes: usize,
    dropped: usize,
    max_lines: usize,
    max_bytes: usize,
}

impl Default for Tail {
    /// The last 50 lines, at most 8 KiB.
    fn default() -> Self {
        Self::new(50, 8 * 1024)
    }
}

impl Tail {
    /// A tail keeping at most `max_lines` lines and `max_bytes` bytes (a longer single line
    /// keeps its end).
    pub fn new(max_lines: usize, max_bytes: usize) -> Self {
        Self { lines: VecDeque::new(), bytes: 0, dropped: 0, max_lines: max_lines.max(1), max_bytes: max_bytes.max(1) }
    }

    /// Adds one line (without its newline).
    pub fn push(&mut self, line: &str) {
        let line = if line.len() > self.max_bytes {
            let mut start = line.len() - self.max_bytes;
            while !line.is_char_boundary(start) {
                start += 1;
            }
            format!("…{}", &line[start..])
        } else {
            line.to_string()
        };
        self.bytes += line.len();
        self.lines.push_back(line);
        while self.lines.len() > self.max_lines || (self.bytes > self.max_bytes && self.lines.len() > 1) {
            if let Some(old) = self.lines.pop_front() {
                self.bytes -= old.len();
                self.dropped += 1;
            }
        }
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// The kept lines, oldest first.
    pub fn lines(&self) -> impl Iterator<Item = &str> {
        self.lines.iter().map(String::as_str)
    }
}

impl fmt::Display for Tail {
    /// The kept lines, each indented, after a note of how many earlier ones were dropped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.dropped > 0 {
            writeln!(f, "  … ({} earlier lines)", self.dropped)?;
        }
        for (i, line) in self.lines.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "  {line}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_lines() {
        let mut tail = Tail::new(3, 1024);
        assert!(tail.is_empty());
        for i in 1..=5 {
            tail.push(&format!("line {i}"));
        }
        assert_eq!(tail.lines().collect::<Vec<_>>(), ["line 3", "line 4", "line 5"]);
        assert_eq!(tail.to_string(), "  … (2 earlier lines)\n  line 3\n  line 4\n  line 5");
    }

    #[test]
    fn keeps_at_most_the_byte_budget() {
        let mut tail = Tail::new(100, 20);
        for word in ["aaaaaaaaaa", "bbbbbbbbbb", "cccccccccc"] {
            tail.push(word);
        }
        assert_eq!(tail.lines().collect::<Vec<_>>(), ["bbbbbbbbbb", "cccccccccc"]);
        tail.push(&"é".repeat(30));
        let kept: Vec<&str> = tail.lines().collect();
        assert_eq!(kept.len(), 1, "one long line replaces the rest");
        assert!(kept[0].starts_with('…') && kept[0].ends_with('é') && kept[0].len() <= 24, "{kept:?}");
    }

    #[test]
    fn default_is_fifty_lines() {
        let mut tail = Tail::default();
        for i in 0..80 {
            tail.push(&i.to_string());
        }
        assert_eq!(tail.lines().count(), 50);
        assert_eq!(tail.lines().next(), Some("30"));
    }
}
