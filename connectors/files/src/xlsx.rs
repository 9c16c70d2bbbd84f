//! XLSX workbooks with calamine's streaming cell reader: every sheet (with a `_sheet` column)
//! or one named sheet; `skip_rows` title rows, then `header_rows` header rows whose merged
//! cells fill their whole range, then data rows. Excel dates become timestamps (dates when
//! every sampled one is at midnight).

use std::collections::BTreeMap;
use std::io::{BufReader, Cursor, Read, Seek};
use std::sync::Mutex;

use calamine::{DataRef, Dimensions, Reader, Xlsx};

use crate::config::StreamSettings;
use crate::names::{join_header, unique_names};
use crate::read::{FileJob, ReadError};
use crate::sample::FileSample;
use crate::source::{FileMeta, Whole};
use crate::value::{Cell, ColumnType, Inference, TextFormats, days_from_civil};

/// Whether to go on after a row.
#[derive(PartialEq, Eq)]
enum Flow {
    Continue,
    Stop,
}

fn open<R: Read + Seek>(reader: R) -> Result<Xlsx<R>, String> {
    Xlsx::new(reader).map_err(|e| format!("not a readable XLSX workbook: {e}"))
}

/// Which version of which sheet merged ranges belong to: the file's name, size, modification
/// time and ETag, and the sheet.
type MergeKey = (String, Option<u64>, i64, Option<String>, String);

/// Merged ranges of the sheets read lately. Finding them costs a full pass over a sheet's XML
/// (calamine reads `<mergeCells>`, which follows the cells), so discover's sample and the
/// read that follows in the same process share one pass instead of making two.
static MERGES: Mutex<BTreeMap<MergeKey, Vec<Dimensions>>> = Mutex::new(BTreeMap::new());

/// Sheets whose merged ranges are kept at most; the oldest keys go first (by name order,
/// which is as good as any for a cache this small).
const MERGES_KEPT: usize = 64;

/// The merged ranges of `sheet` of the workbook `file`, from the cache or a pass over it.
fn merges<R: Read + Seek>(
    workbook: &mut Xlsx<R>,
    file: &FileMeta,
    sheet: &str,
) -> Result<Vec<Dimensions>, calamine::XlsxError> {
    let key = (file.name.clone(), file.size, file.modified, file.etag.clone(), sheet.to_string());
    if let Some(found) = MERGES.lock().ok().and_then(|cache| cache.get(&key).cloned()) {
        return Ok(found);
    }
    let found = workbook.merge_cells_by_sheet_name(sheet)?;
    if let Ok(mut cache) = MERGES.lock() {
        while cache.len() >= MERGES_KEPT {
            cache.pop_first();
        }
        cache.insert(key, found.clone());
    }
    Ok(found)
}

/// The sheets to read.
fn sheets<R: Read + Seek>(workbook: &Xlsx<R>, settings: &StreamSettings) -> Result<Vec<String>, String> {
    let names = workbook.sheet_names();
    match &settings.sheet {
        Some(wanted) if names.iter().any(|n| n == wanted) => Ok(vec![wanted.clone()]),
        Some(wanted) => Err(format!("has no sheet {wanted:?}; its sheets are: {}", names.join(", "))),
        None => Ok(names),
    }
}

/// Micros since the epoch of an Excel date-time.
fn excel_micros(value: &calamine::ExcelDateTime) -> Option<i64> {
    let (y, mo, d, h, mi, s, ms) = value.to_ymd_hms_milli();
    let days = days_from_civil(i64::from(y), u32::from(mo), u32::from(d))?;
    Some(
        days * 86_400_000_000
            + ((i64::from(h) * 60 + i64::from(mi)) * 60 + i64::from(s)) * 1_000_000
            + i64::from(ms) * 1000,
    )
}

/// A cell as header text.
fn header_text(value: &DataRef<'_>) -> String {
    match value {
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.clone(),
        DataRef::SharedString(s) => s.to_string(),
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) => f.to_string(),
        DataRef::Bool(b) => b.to_string(),
        DataRef::DateTime(dt) => excel_micros(dt).map(crate::state::format_micros).unwrap_or_default(),
        DataRef::Error(_) | DataRef::Empty => String::new(),
    }
}

fn is_blank(value: &DataRef<'_>) -> bool {
    match value {
        DataRef::Empty | DataRef::Error(_) => true,
        DataRef::String(s) => s.trim().is_empty(),
        DataRef::SharedString(s) => s.trim().is_empty(),
        _ => false,
    }
}

/// Column letters of a 0-based index (`0` → `A`, `27` → `AB`).
fn column_letters(mut index: u32) -> String {
    let mut letters = Vec::new();
    loop {
        letters.push(b'A' + (index % 26) as u8);
        if index < 26 {
            break;
        }
        index = index / 26 - 1;
    }
    letters.reverse();
    String::from_utf8(letters).unwrap_or_default()
}

/// A sheet's header, once read: the first column and the names.
struct Header {
    first_col: u32,
    names: Vec<String>,
}

/// Builds the header from its rows (`(row, cells)`), filling merged ranges.
fn build_header(
    rows: &[(u32, Vec<(u32, String)>)],
    merges: &[Dimensions],
    dims_cols: (u32, u32),
    header_rows: usize,
) -> Header {
    if header_rows == 0 {
        let width = (dims_cols.1.saturating_sub(dims_cols.0) + 1) as usize;
        return Header { first_col: dims_cols.0, names: (1..=width).map(|i| format!("column_{i}")).collect() };
    }
    let mut grid: Vec<(u32, std::collections::BTreeMap<u32, String>)> = rows
        .iter()
        .map(|(r, cells)| (*r, cells.iter().filter(|(_, t)| !t.trim().is_empty()).cloned().collect()))
        .collect();
    for merge in merges {
        let (r0, c0) = merge.start;
        let (r1, c1) = merge.end;
        let Some(text) = grid.iter().find(|(r, _)| *r == r0).and_then(|(_, cells)| cells.get(&c0)).cloned() else {
            continue;
        };
        for (r, cells) in grid.iter_mut() {
            if (r0..=r1).contains(r) {
                for c in c0..=c1 {
                    cells.insert(c, text.clone());
                }
            }
        }
    }
    let first = grid.iter().filter_map(|(_, cells)| cells.keys().next().copied()).min().unwrap_or(0);
    let last = grid.iter().filter_map(|(_, cells)| cells.keys().next_back().copied()).max().unwrap_or(first);
    let table: Vec<Vec<String>> = grid
        .iter()
        .map(|(_, cells)| (first..=last).map(|c| cells.get(&c).cloned().unwrap_or_default()).collect())
        .collect();
    Header { first_col: first, names: unique_names(join_header(&table, false)) }
}

/// What [`walk`] hands on.
enum Event<'h, 'r, 'a> {
    /// The sheet's header, once known (before its data rows).
    Header(&'h Header),
    /// A data row: the header, the 0-based sheet row, and its cells by 0-based column.
    Row(&'h Header, u32, &'r [(u32, DataRef<'a>)]),
}

/// Walks a sheet's non-blank rows: skipped rows, header rows, then the header and every data
/// row as [`Event`]s.
fn walk<R: Read + Seek, E>(
    workbook: &mut Xlsx<R>,
    file: &FileMeta,
    sheet: &str,
    settings: &StreamSettings,
    fail: &dyn Fn(String) -> E,
    on_event: &mut dyn FnMut(Event<'_, '_, '_>) -> Result<Flow, E>,
) -> Result<(), E> {
    let merges = merges(workbook, file, sheet).map_err(|e| fail(format!("sheet {sheet:?}: {e}")))?;
    let mut reader = workbook.worksheet_cells_reader(sheet).map_err(|e| fail(format!("sheet {sheet:?}: {e}")))?;
    let dims = reader.dimensions();
    let dims_cols = (dims.start.1, dims.end.1);
    let mut skipped = 0usize;
    let mut header_rows: Vec<(u32, Vec<(u32, String)>)> = Vec::new();
    let mut header: Option<Header> = None;
    let mut row: Vec<(u32, DataRef<'_>)> = Vec::new();
    let mut current: Option<u32> = None;
    let mut merged_values: Vec<Option<DataRef<'_>>> = vec![None; merges.len()];
    loop {
        let next = reader.next_cell().map_err(|e| fail(format!("sheet {sheet:?}: {e}")))?;
        let next_row = next.as_ref().map(|cell| cell.get_position().0);
        if next_row != current || next.is_none() {
            let in_data =
                skipped >= settings.skip_rows && (header.is_some() || header_rows.len() >= settings.header_rows);
            if let Some(r) = current
                && in_data
            {
                fill_merged(&mut row, r, &merges, &mut merged_values);
            }
            if let Some(r) = current
                && row.iter().any(|(_, v)| !is_blank(v))
            {
                if skipped < settings.skip_rows {
                    skipped += 1;
                } else if header.is_none() && header_rows.len() < settings.header_rows {
                    header_rows.push((r, row.iter().map(|(c, v)| (*c, header_text(v))).collect()));
                } else {
                    if header.is_none() {
                        let built = build_header(&header_rows, &merges, dims_cols, settings.header_rows);
                        on_event(Event::Header(&built))?;
                        header = Some(built);
                    }
                    if let Some(h) = &header
                        && on_event(Event::Row(h, r, &row))? == Flow::Stop
                    {
                        return Ok(());
                    }
                }
            }
            row.clear();
            current = next_row;
        }
        match next {
            Some(cell) => {
                let (_, c) = cell.get_position();
                row.push((c, cell.get_value().clone()));
            }
            None => break,
        }
    }
    if header.is_none() && !header_rows.is_empty() {
        let built = build_header(&header_rows, &merges, dims_cols, settings.header_rows);
        on_event(Event::Header(&built))?;
    }
    Ok(())
}

/// Fills a data row's cells covered by a merged range with the range's top-left value (a
/// department merged down over its people's rows belongs to each of them).
fn fill_merged<'a>(
    row: &mut Vec<(u32, DataRef<'a>)>,
    r: u32,
    merges: &[Dimensions],
    values: &mut [Option<DataRef<'a>>],
) {
    let mut added = false;
    for (merge, value) in merges.iter().zip(values.iter_mut()) {
        if merge.start.0 == r {
            *value = row.iter().find(|(c, _)| *c == merge.start.1).map(|(_, v)| v.clone());
        }
        if !(merge.start.0..=merge.end.0).contains(&r) {
            continue;
        }
        let Some(value) = value.as_ref() else { continue };
        for c in merge.start.1..=merge.end.1 {
            if (r, c) == merge.start {
                continue;
            }
            match row.iter_mut().find(|(x, _)| *x == c) {
                Some((_, cell)) if is_blank(cell) => *cell = value.clone(),
                Some(_) => {}
                None => {
                    row.push((c, value.clone()));
                    added = true;
                }
            }
        }
    }
    if added {
        row.sort_by_key(|(c, _)| *c);
    }
}

fn observe(inference: &mut Inference, value: &DataRef<'_>, formats: &TextFormats) {
    match value {
        DataRef::Empty | DataRef::Error(_) => {}
        DataRef::Int(i) => inference.int(*i),
        DataRef::Float(f) => inference.float(*f),
        DataRef::Bool(_) => inference.boolean(),
        DataRef::DateTime(dt) if dt.is_datetime() => {
            inference.datetime(excel_micros(dt).is_some_and(|m| m.rem_euclid(86_400_000_000) == 0))
        }
        DataRef::DateTime(_) => inference.float(0.5),
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => inference.text(s.as_bytes(), formats),
        DataRef::SharedString(s) => inference.text(s.as_bytes(), formats),
    }
}

fn sample_in<R: Read + Seek>(
    mut workbook: Xlsx<R>,
    file: &FileMeta,
    settings: &StreamSettings,
    formats: &TextFormats,
    rows: usize,
) -> Result<FileSample, String> {
    let mut columns: Vec<(String, Inference)> = Vec::new();
    for sheet in sheets(&workbook, settings)? {
        let mut map: Vec<usize> = Vec::new();
        let mut taken = 0;
        walk(&mut workbook, file, &sheet, settings, &|e| e, &mut |event| {
            let (header, cells) = match event {
                Event::Header(header) => {
                    map = header
                        .names
                        .iter()
                        .map(|name| match columns.iter().position(|(n, _)| n == name) {
                            Some(i) => i,
                            None => {
                                columns.push((name.clone(), Inference::default()));
                                columns.len() - 1
                            }
                        })
                        .collect();
                    return Ok(Flow::Continue);
                }
                Event::Row(header, _, cells) => (header, cells),
            };
            for (c, value) in cells {
                if let Some(&i) = c.checked_sub(header.first_col).and_then(|i| map.get(i as usize)) {
                    observe(&mut columns[i].1, value, formats);
                }
            }
            taken += 1;
            Ok(if taken >= rows { Flow::Stop } else { Flow::Continue })
        })?;
    }
    Ok(FileSample::inferred(columns))
}

/// Samples a workbook: every read sheet's header and first `rows` data rows.
pub fn sample(
    whole: Whole,
    file: &FileMeta,
    settings: &StreamSettings,
    formats: &TextFormats,
    rows: usize,
) -> Result<FileSample, String> {
    match whole {
        Whole::File(f) => sample_in(open(BufReader::with_capacity(1 << 20, f))?, file, settings, formats, rows),
        Whole::Bytes(b) => sample_in(open(Cursor::new(b))?, file, settings, formats, rows),
    }
}

/// A cell as a value of `kind` (text goes into `text`), or why it is not one.
fn convert(
    value: &DataRef<'_>,
    kind: ColumnType,
    formats: &TextFormats,
    text: &mut String,
) -> Result<Cell, &'static str> {
    let as_text = |text: &mut String, s: &str| {
        let start = text.len() as u32;
        text.push_str(s);
        Cell::Str(start, text.len() as u32)
    };
    Ok(match (value, kind) {
        (DataRef::Empty | DataRef::Error(_), _) => Cell::Null,
        (DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s), ColumnType::String) => {
            if s.is_empty() { Cell::Null } else { as_text(text, s) }
        }
        (DataRef::SharedString(s), ColumnType::String) => {
            if s.is_empty() {
                Cell::Null
            } else {
                as_text(text, s)
            }
        }
        (DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s), kind) => {
            formats.parse(kind, s.as_bytes())?
        }
        (DataRef::SharedString(s), kind) => formats.parse(kind, s.as_bytes())?,
        (DataRef::Int(i), ColumnType::Int) => Cell::Int(*i),
        (DataRef::Int(i), ColumnType::Float) => Cell::Float(*i as f64),
        (DataRef::Float(f), ColumnType::Float) => Cell::Float(*f),
        (DataRef::Float(f), ColumnType::Int) if f.fract() == 0.0 && f.abs() < 9.0e15 => Cell::Int(*f as i64),
        (DataRef::Float(_), ColumnType::Int) => return Err("is not an integer"),
        (DataRef::Bool(b), ColumnType::Bool) => Cell::Bool(*b),
        (DataRef::DateTime(dt), ColumnType::Timestamp) => {
            Cell::Timestamp(excel_micros(dt).ok_or("is not a valid date")?)
        }
        (DataRef::DateTime(dt), ColumnType::Date) => {
            let micros = excel_micros(dt).ok_or("is not a valid date")?;
            Cell::Date(i32::try_from(micros.div_euclid(86_400_000_000)).map_err(|_| "is out of range")?)
        }
        (DataRef::DateTime(dt), ColumnType::Float) => Cell::Float(dt.as_f64()),
        (other, ColumnType::String) => {
            let shown = header_text(other);
            as_text(text, &shown)
        }
        (DataRef::Int(_) | DataRef::Float(_), _) => return Err("is a number where the column holds another type"),
        (DataRef::Bool(_), _) => return Err("is a boolean where the column holds another type"),
        (DataRef::DateTime(_), _) => return Err("is a date where the column holds another type"),
    })
}

fn read_in<R: Read + Seek>(job: &mut FileJob<'_>, mut workbook: Xlsx<R>) -> Result<(), ReadError> {
    let settings = job.settings;
    let file = job.file.name.clone();
    let sheets = sheets(&workbook, settings).map_err(|e| ReadError::Failed(format!("{file}: {e}")))?;
    let mut text = String::new();
    for sheet in sheets {
        job.set_sheet(Some(sheet.clone()))?;
        let mut columns: Vec<(usize, ColumnType)> = Vec::new();
        walk(
            &mut workbook,
            job.file,
            &sheet,
            settings,
            &|e| ReadError::Failed(format!("{file}: {e}")),
            &mut |event| {
                let (header, r, cells) = match event {
                    Event::Header(header) => {
                        columns = job.map_columns(&header.names)?;
                        return Ok(Flow::Continue);
                    }
                    Event::Row(header, r, cells) => (header, r, cells),
                };
                job.next_row();
                if job.skipping() {
                    return Ok(Flow::Continue);
                }
                text.clear();
                let line = u64::from(r) + 1;
                for (c, value) in cells {
                    let index = c.checked_sub(header.first_col).map(|i| i as usize).filter(|&i| i < columns.len());
                    let Some(i) = index else {
                        if is_blank(value) {
                            continue;
                        }
                        let detail = format!("has a value in column {} beyond the header", column_letters(*c));
                        job.malformed(line, None, detail)?;
                        return Ok(Flow::Continue);
                    };
                    let (target, kind) = columns[i];
                    match convert(value, kind, job.formats, &mut text) {
                        Ok(cell) => job.set(target, cell),
                        Err(why) => {
                            let shown = header_text(value);
                            job.malformed_value(line, i, &shown, why)?;
                            return Ok(Flow::Continue);
                        }
                    }
                }
                job.push_row(&text);
                if job.pending() >= settings.batch_size {
                    job.checkpoint_rows(false)?;
                }
                Ok(Flow::Continue)
            },
        )?;
    }
    job.checkpoint_rows(true)
}

/// Reads a workbook into the job's stream.
pub fn read(job: &mut FileJob<'_>, whole: Whole) -> Result<(), ReadError> {
    let fail = |e: String| ReadError::Failed(format!("{}: {e}", job.file.name));
    match whole {
        Whole::File(f) => {
            let workbook = open(BufReader::with_capacity(1 << 20, f)).map_err(fail)?;
            read_in(job, workbook)
        }
        Whole::Bytes(b) => {
            let workbook = open(Cursor::new(b)).map_err(fail)?;
            read_in(job, workbook)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_letters_count_like_excel() {
        assert_eq!(column_letters(0), "A");
        assert_eq!(column_letters(25), "Z");
        assert_eq!(column_letters(26), "AA");
        assert_eq!(column_letters(27), "AB");
        assert_eq!(column_letters(701), "ZZ");
        assert_eq!(column_letters(702), "AAA");
    }

    #[test]
    fn merged_header_cells_fill_their_range() {
        let rows = vec![
            (0, vec![(0, "ID".to_string()), (1, "Satisfaction".to_string()), (4, "Comment".to_string())]),
            (1, vec![(1, "price".to_string()), (2, "speed".to_string()), (3, "staff".to_string())]),
        ];
        // A1:A2 merged down, B1:D1 merged across, E1:E2 merged down.
        let merges = [
            Dimensions { start: (0, 0), end: (1, 0) },
            Dimensions { start: (0, 1), end: (0, 3) },
            Dimensions { start: (0, 4), end: (1, 4) },
        ];
        let header = build_header(&rows, &merges, (0, 4), 2);
        assert_eq!(header.first_col, 0);
        assert_eq!(header.names, ["ID", "Satisfaction price", "Satisfaction speed", "Satisfaction staff", "Comment"]);
    }

    #[test]
    fn excel_dates_become_microseconds() {
        let dt = calamine::ExcelDateTime::new(45943.5, calamine::ExcelDateTimeType::DateTime, false);
        let micros = excel_micros(&dt).unwrap();
        assert_eq!(crate::state::format_micros(micros), "2025-10-13T12:00:00.000000Z");
    }
}
