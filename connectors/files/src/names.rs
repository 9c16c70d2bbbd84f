//! Column names from header rows (multi-row headers joined, blanks and duplicates made
//! unique) and stream names for `stream_per_file`.

use std::collections::HashSet;

/// The extra column naming each record's file.
pub const FILE_COLUMN: &str = "_file";
/// The extra column numbering each record within its file (and sheet).
pub const ROW_COLUMN: &str = "_row";
/// The extra column holding the file's modification time.
pub const MODIFIED_COLUMN: &str = "_modified";
/// The extra column naming each record's sheet (workbooks read sheet by sheet).
pub const SHEET_COLUMN: &str = "_sheet";

/// Whether a name is one of the connector's own columns.
pub fn is_reserved(name: &str) -> bool {
    matches!(name, FILE_COLUMN | ROW_COLUMN | MODIFIED_COLUMN | SHEET_COLUMN)
}

/// Joins header rows into one name per column. An empty cell of an upper row continues the
/// cell to its left when `fill_left` (a CSV export of a merged group header leaves blanks);
/// parts are trimmed, empty parts dropped, and a part equal to the one above it (a cell merged
/// down) is used once.
pub fn join_header(rows: &[Vec<String>], fill_left: bool) -> Vec<String> {
    let width = rows.iter().map(Vec::len).max().unwrap_or(0);
    let last = rows.len().saturating_sub(1);
    let mut filled: Vec<Vec<String>> = Vec::with_capacity(rows.len());
    for (r, row) in rows.iter().enumerate() {
        let mut cells: Vec<String> =
            (0..width).map(|c| row.get(c).map(|s| s.trim().to_string()).unwrap_or_default()).collect();
        if fill_left && r < last {
            for c in 1..width {
                if cells[c].is_empty() {
                    cells[c] = cells[c - 1].clone();
                }
            }
        }
        filled.push(cells);
    }
    (0..width)
        .map(|c| {
            let mut parts: Vec<&str> = Vec::new();
            for row in &filled {
                let part = row[c].as_str();
                if !part.is_empty() && parts.last() != Some(&part) {
                    parts.push(part);
                }
            }
            parts.join(" ")
        })
        .collect()
}

/// Makes names usable as columns: trimmed; an empty name becomes `column_<position>`; a
/// duplicate or one of the connector's own column names gets `_2`, `_3`, … appended.
pub fn unique_names(names: Vec<String>) -> Vec<String> {
    let mut taken: HashSet<String> = HashSet::new();
    let mut out = Vec::with_capacity(names.len());
    for (i, name) in names.into_iter().enumerate() {
        let name = name.trim();
        let base = if name.is_empty() { format!("column_{}", i + 1) } else { name.to_string() };
        let mut candidate = base.clone();
        let mut n = 2;
        while is_reserved(&candidate) || taken.contains(&candidate) {
            candidate = format!("{base}_{n}");
            n += 1;
        }
        taken.insert(candidate.clone());
        out.push(candidate);
    }
    out
}

/// `<prefix>_<file stem>` with the stem lower-cased and every run of characters other than
/// ASCII letters and digits turned into one `_`.
pub fn per_file_stream(prefix: &str, path: &str) -> String {
    let file = path.rsplit('/').next().unwrap_or(path);
    let stem = match file.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem,
        _ => file,
    };
    let mut out = String::with_capacity(prefix.len() + stem.len() + 1);
    out.push_str(prefix);
    out.push('_');
    let mut last_underscore = true;
    for c in stem.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
            last_underscore = false;
        } else if !last_underscore {
            out.push('_');
            last_underscore = true;
        }
    }
    while out.ends_with('_') && out.len() > prefix.len() + 1 {
        out.pop();
    }
    if out.ends_with('_') {
        out.push_str("file");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn one_header_row_is_trimmed_and_made_unique() {
        let names = unique_names(join_header(&[row(&[" id ", "", "score", "score", "_row", "column_2"])], true));
        assert_eq!(names, ["id", "column_2", "score", "score_2", "_row_2", "column_2_2"]);
    }

    #[test]
    fn multi_row_headers_join_with_a_space_and_fill_blank_group_cells() {
        let rows = [row(&["", "Q1 satisfaction", "", "", "Q2"]), row(&["id", "price", "speed", "staff", "comment"])];
        assert_eq!(
            join_header(&rows, true),
            ["id", "Q1 satisfaction price", "Q1 satisfaction speed", "Q1 satisfaction staff", "Q2 comment"]
        );
        // A cell merged down (same text in both rows) is used once.
        let rows = [row(&["ID", "Group"]), row(&["ID", "a"])];
        assert_eq!(join_header(&rows, false), ["ID", "Group a"]);
        // Without filling, blanks stay blank.
        let rows = [row(&["G", ""]), row(&["a", "b"])];
        assert_eq!(join_header(&rows, false), ["G a", "b"]);
    }

    #[test]
    fn per_file_stream_names() {
        assert_eq!(per_file_stream("enps", "2025/Q1 Export (final).csv"), "enps_q1_export_final");
        assert_eq!(per_file_stream("x", "Опрос.xlsx"), "x_file");
        assert_eq!(per_file_stream("x", "a--b.tar.gz"), "x_a_b_tar");
        assert_eq!(per_file_stream("x", ".hidden"), "x_hidden");
    }
}
