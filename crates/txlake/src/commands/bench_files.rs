//! `txlake bench files`: the `files` connector on a generated CSV of survey answers (5
//! million rows, about 490 MB) and a generated XLSX workbook (200,000 rows), each synced into
//! a fresh file lake through the sync runner: rows, seconds, rows/s, peak RSS, lake size, CPU
//! used and host steal. Then DuckDB's `read_csv` on the same CSV (`benches/duckdb`, pinned,
//! installed from PyPI on first use), reading and writing Parquet as we do, and a plain
//! `count(*)`: the reference speed on the same machine in the same minute.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use serde_json::json;
use txlake_sync::connectors::builtin_registry;
use txlake_sync::{ConnectionConfig, QuietObserver, SyncOptions, sync_connection};

use super::bench::{CpuTimes, bench_dir, file_lake_config, folder_size, peak_rss_bytes, reset_peak_rss};

/// The targets the figures are printed beside.
const CSV_ROWS_PER_SECOND_TARGET: f64 = 1_000_000.0;
const CSV_PEAK_RSS_TARGET_MB: f64 = 300.0;
const XLSX_ROWS_PER_SECOND_TARGET: f64 = 100_000.0;

/// The script that times DuckDB on the CSV.
const DUCKDB_SCRIPT: &str = "benches/duckdb/run.sh";

/// The columns of the generated files.
const COLUMNS: [&str; 8] = ["response_id", "email", "department", "team", "survey", "submitted_at", "score", "comment"];
const DEPARTMENTS: [&str; 6] = ["Sales", "Support", "Engineering", "Finance", "Marketing", "Продажи"];
const TEAMS: [&str; 8] = ["Enterprise", "SMB", "Tier 1", "Tier 2", "Platform", "Mobile", "Payroll", "Brand"];
const SURVEYS: [&str; 3] = ["enps", "pulse", "onboarding"];
/// Comment fragments; a comment is empty or up to three of them, so lengths vary from 0 to
/// about 120 characters, some with commas and quotes (quoted in the CSV).
const PHRASES: [&str; 12] = [
    "great team",
    "too many meetings",
    "clear goals",
    "the \"buddy\" programme helps",
    "night shifts, again",
    "more remote days please",
    "tooling is slow",
    "my lead listens",
    "pay is fine, growth is not",
    "onboarding was smooth",
    "OK",
    "would recommend to a friend",
];

/// One generated survey answer.
struct Answer {
    id: u64,
    department: &'static str,
    team: &'static str,
    survey: &'static str,
    /// Seconds since 2026-01-01T00:00:00Z.
    offset_seconds: u64,
    score: Option<u64>,
    comment: String,
}

/// A small deterministic generator (xorshift64*), so every run writes the same files.
struct Rng(u64);

impl Rng {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % bound
    }

    fn answer(&mut self, id: u64) -> Answer {
        let phrases = match self.below(10) {
            0..=3 => 0,
            4..=6 => 1,
            7..=8 => 2,
            _ => 3,
        };
        let comment = (0..phrases).map(|_| PHRASES[self.below(PHRASES.len() as u64) as usize]).collect::<Vec<_>>();
        Answer {
            id,
            department: DEPARTMENTS[self.below(DEPARTMENTS.len() as u64) as usize],
            team: TEAMS[self.below(TEAMS.len() as u64) as usize],
            survey: SURVEYS[self.below(SURVEYS.len() as u64) as usize],
            offset_seconds: self.below(330 * 86_400),
            score: (self.below(50) != 0).then(|| self.below(11)),
            comment: comment.join("; "),
        }
    }
}

fn epoch() -> chrono::NaiveDateTime {
    chrono::NaiveDate::from_ymd_opt(2026, 1, 1).and_then(|d| d.and_hms_opt(0, 0, 0)).expect("a valid date")
}

/// Writes `rows` answers as CSV (UTF-8, `,`, RFC 4180 quoting); returns its size in bytes.
fn write_csv(path: &Path, rows: u64) -> anyhow::Result<u64> {
    let file = std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    writeln!(out, "{}", COLUMNS.join(","))?;
    let mut rng = Rng(0x5eed_f11e);
    let start = epoch();
    for id in 1..=rows {
        let a = rng.answer(id);
        let at = start + chrono::Duration::seconds(a.offset_seconds as i64);
        write!(
            out,
            "{},u{}@acme.example,{},{},{},{},",
            a.id,
            a.id,
            a.department,
            a.team,
            a.survey,
            at.format("%Y-%m-%dT%H:%M:%SZ")
        )?;
        if let Some(score) = a.score {
            write!(out, "{score}")?;
        }
        if a.comment.contains([',', '"']) {
            writeln!(out, ",\"{}\"", a.comment.replace('"', "\"\""))?;
        } else {
            writeln!(out, ",{}", a.comment)?;
        }
    }
    out.flush()?;
    Ok(std::fs::metadata(path)?.len())
}

/// Escapes text for XML content.
fn xml_text(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The spreadsheet column letters of a 0-based index below 26.
fn column_letter(index: usize) -> char {
    (b'A' + index as u8) as char
}

/// Writes `rows` answers as an XLSX workbook of one sheet, `Answers`: the smallest valid
/// Office Open XML package (inline strings, one date-time style), so no spreadsheet library
/// is needed in the binary. Returns its size in bytes.
fn write_xlsx(path: &Path, rows: u64) -> anyhow::Result<u64> {
    use zip::write::SimpleFileOptions;
    let file = std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(file));
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let parts: [(&str, &str); 5] = [
        (
            "[Content_Types].xml",
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>"#,
        ),
        (
            "_rels/.rels",
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#,
        ),
        (
            "xl/workbook.xml",
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Answers" sheetId="1" r:id="rId1"/></sheets></workbook>"#,
        ),
        (
            "xl/_rels/workbook.xml.rels",
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>"#,
        ),
        (
            // Style 1: the built-in date-time format 22 (m/d/yy h:mm), which readers take
            // as a date-time cell.
            "xl/styles.xml",
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts><fills count="1"><fill><patternFill patternType="none"/></fill></fills><borders count="1"><border/></borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs><cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="22" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs></styleSheet>"#,
        ),
    ];
    for (name, text) in parts {
        zip.start_file(name, options)?;
        zip.write_all(text.as_bytes())?;
    }
    zip.start_file("xl/worksheets/sheet1.xml", options)?;
    zip.write_all(
        br#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#,
    )?;
    let inline = |zip: &mut zip::ZipWriter<_>, cell: String, text: &str| -> std::io::Result<()> {
        write!(zip, r#"<c r="{cell}" t="inlineStr"><is><t xml:space="preserve">{}</t></is></c>"#, xml_text(text))
    };
    write!(zip, r#"<row r="1">"#)?;
    for (i, name) in COLUMNS.iter().enumerate() {
        inline(&mut zip, format!("{}1", column_letter(i)), name)?;
    }
    write!(zip, "</row>")?;
    let mut rng = Rng(0x5eed_f11e);
    // Spreadsheet serial dates count days from 1899-12-30.
    let serial_epoch = (epoch()
        - chrono::NaiveDate::from_ymd_opt(1899, 12, 30).expect("a date").and_time(chrono::NaiveTime::MIN))
    .num_days() as f64;
    for id in 1..=rows {
        let a = rng.answer(id);
        let r = id + 1;
        write!(zip, r#"<row r="{r}"><c r="A{r}"><v>{}</v></c>"#, a.id)?;
        inline(&mut zip, format!("B{r}"), &format!("u{}@acme.example", a.id))?;
        inline(&mut zip, format!("C{r}"), a.department)?;
        inline(&mut zip, format!("D{r}"), a.team)?;
        inline(&mut zip, format!("E{r}"), a.survey)?;
        write!(zip, r#"<c r="F{r}" s="1"><v>{}</v></c>"#, serial_epoch + a.offset_seconds as f64 / 86_400.0)?;
        if let Some(score) = a.score {
            write!(zip, r#"<c r="G{r}"><v>{score}</v></c>"#)?;
        }
        if !a.comment.is_empty() {
            inline(&mut zip, format!("H{r}"), &a.comment)?;
        }
        write!(zip, "</row>")?;
    }
    zip.write_all(b"</sheetData></worksheet>")?;
    zip.finish()?.flush()?;
    Ok(std::fs::metadata(path)?.len())
}

/// What one sync of one file measured.
struct Phase {
    rows: u64,
    seconds: f64,
    peak_rss: Option<u64>,
    lake_bytes: u64,
    cpu: Option<CpuTimes>,
}

impl Phase {
    fn rows_per_second(&self) -> f64 {
        self.rows as f64 / self.seconds
    }
}

/// Syncs the one file `file` of `data` with the files connector into a fresh lake under
/// `lake_dir`, measuring it alone: the peak RSS is reset first.
async fn sync_file(data: &Path, file: &str, lake_dir: &Path, expected_rows: u64) -> anyhow::Result<Phase> {
    let _ = std::fs::remove_dir_all(lake_dir);
    std::fs::create_dir_all(lake_dir).with_context(|| format!("cannot create {}", lake_dir.display()))?;
    let config = file_lake_config(lake_dir)?;
    let lake = config.open_lake()?;
    // Through serde, so the connection gets every default a config file would.
    let connection: ConnectionConfig = serde_json::from_value(json!({
        "connector": "files",
        "config": { "url": data.display().to_string(), "streams": [{ "name": "answers", "glob": file }] },
    }))?;
    let options = SyncOptions { policy: config.sync.clone(), ..Default::default() };
    let peak_is_the_syncs = reset_peak_rss();
    let cpu_before = CpuTimes::now();
    let started = Instant::now();
    let report = sync_connection(&lake, &builtin_registry(), "bench", &connection, &options, &QuietObserver).await?;
    let seconds = started.elapsed().as_secs_f64();
    let cpu = CpuTimes::now().zip(cpu_before).map(|(after, before)| after.since(&before));
    // Without a reset the peak may be an earlier phase's: say so rather than report it.
    let peak_rss = peak_rss_bytes().filter(|_| peak_is_the_syncs);
    if let Some(error) = &report.error {
        anyhow::bail!("the benchmark sync of {file} failed: {error}");
    }
    let rows: u64 = report.streams.iter().map(|s| s.records).sum();
    if rows != expected_rows {
        anyhow::bail!("the sync of {file} landed {rows} rows, the file has {expected_rows}");
    }
    Ok(Phase { rows, seconds, peak_rss, lake_bytes: folder_size(&lake_dir.join("lake")), cpu })
}

fn print_phase(phase: &Phase, rows_target: f64, rss_target_mb: Option<f64>) {
    println!("  rows            {}", phase.rows);
    println!("  seconds         {:.2}", phase.seconds);
    println!("  rows/s          {:.0}   (target ≥ {rows_target:.0})", phase.rows_per_second());
    match (phase.peak_rss, rss_target_mb) {
        (Some(rss), Some(target)) => {
            println!("  peak RSS        {:.0} MB   (target ≤ {target:.0} MB)", rss as f64 / 1e6)
        }
        (Some(rss), None) => println!("  peak RSS        {:.0} MB", rss as f64 / 1e6),
        (None, _) => println!("  peak RSS        unknown (no /proc/self/status, or VmHWM cannot be reset)"),
    }
    println!("  lake size       {:.1} MB", phase.lake_bytes as f64 / 1e6);
    if let Some(cpu) = &phase.cpu {
        println!("  CPU             {}", cpu.describe(phase.seconds));
    }
}

/// Runs the files benchmark.
pub async fn run(rows: u64, xlsx_rows: u64, dir: Option<PathBuf>, duckdb: bool) -> anyhow::Result<ExitCode> {
    let (dir, temporary) = bench_dir(dir, "files")?;
    let data = dir.join("data");
    std::fs::create_dir_all(&data).with_context(|| format!("cannot create {}", data.display()))?;

    let csv = data.join("answers.csv");
    let started = Instant::now();
    let csv_bytes = write_csv(&csv, rows)?;
    println!(
        "bench files: {rows} survey answers as CSV ({:.0} MB, written in {:.1} s) → {}",
        csv_bytes as f64 / 1e6,
        started.elapsed().as_secs_f64(),
        dir.display()
    );
    let csv_phase = sync_file(&data, "answers.csv", &dir.join("csv"), rows).await?;
    println!("CSV → lake (files connector):");
    print_phase(&csv_phase, CSV_ROWS_PER_SECOND_TARGET, Some(CSV_PEAK_RSS_TARGET_MB));
    println!("  MB/s            {:.0}", csv_bytes as f64 / csv_phase.seconds / 1e6);

    if xlsx_rows > 0 {
        let xlsx = data.join("answers.xlsx");
        let started = Instant::now();
        let xlsx_bytes = write_xlsx(&xlsx, xlsx_rows)?;
        println!(
            "XLSX → lake (files connector): {xlsx_rows} rows, one sheet ({:.1} MB, written in {:.1} s):",
            xlsx_bytes as f64 / 1e6,
            started.elapsed().as_secs_f64()
        );
        let xlsx_phase = sync_file(&data, "answers.xlsx", &dir.join("xlsx"), xlsx_rows).await?;
        print_phase(&xlsx_phase, XLSX_ROWS_PER_SECOND_TARGET, None);
    }

    if duckdb {
        compare_with_duckdb(&csv, &dir.join("duckdb.parquet"), rows, &csv_phase).await?;
    }
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(ExitCode::SUCCESS)
}

/// Times DuckDB's `read_csv` on the same CSV (`COPY … TO parquet`, then `count(*)`) and
/// prints txlake's speed as a multiple of it.
async fn compare_with_duckdb(csv: &Path, parquet: &Path, rows: u64, txlake: &Phase) -> anyhow::Result<()> {
    let script = [
        PathBuf::from(DUCKDB_SCRIPT),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(DUCKDB_SCRIPT),
    ]
    .into_iter()
    .find(|p| p.is_file())
    .ok_or_else(|| {
        anyhow::anyhow!(
            "the DuckDB comparison needs {DUCKDB_SCRIPT} from the txlake repository: run the benchmark from the repository's root, or pass --no-duckdb"
        )
    })?;
    println!("DuckDB read_csv on the same file (benches/duckdb):");
    let output = tokio::process::Command::new("bash")
        .arg(&script)
        .arg(csv)
        .arg(parquet)
        .stderr(std::process::Stdio::inherit())
        .output()
        .await
        .map_err(|e| anyhow::anyhow!("could not run {}: {e}", script.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        anyhow::bail!("the DuckDB run failed ({}): {stdout}", output.status);
    }
    let figure = |name: &str| -> anyhow::Result<f64> {
        stdout
            .lines()
            .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
            .ok_or_else(|| anyhow::anyhow!("{} printed no `{name}` line: {stdout}", script.display()))
    };
    let (counted, copy, count, rss) =
        (figure("rows ")?, figure("copy seconds ")?, figure("count seconds ")?, figure("peak rss mb ")?);
    if counted as u64 != rows {
        anyhow::bail!("DuckDB counted {counted} rows, the file has {rows}");
    }
    let copy_rate = rows as f64 / copy;
    println!(
        "  COPY (SELECT * FROM read_csv(…)) TO parquet   {copy:.2} s   {copy_rate:.0} rows/s   peak RSS {rss:.0} MB"
    );
    println!("  SELECT count(*) FROM read_csv(…)              {count:.2} s   {:.0} rows/s", rows as f64 / count);
    println!(
        "txlake ÷ DuckDB   {:.2}× of DuckDB's read-and-write speed ({:.2}× of its count(*))",
        txlake.rows_per_second() / copy_rate,
        count / txlake.seconds
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csv_is_the_rows_asked_for_with_quoted_comments() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.csv");
        write_csv(&path, 2_000).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2_001);
        assert_eq!(lines[0], COLUMNS.join(","));
        assert!(lines[1].starts_with("1,u1@acme.example,") && lines[2_000].starts_with("2000,u2000@acme.example,"));
        assert!(lines.iter().any(|l| l.ends_with(",")), "some answers have no comment");
        assert!(lines.iter().any(|l| l.contains("the \"\"buddy\"\" programme helps")), "quotes are doubled");
        let average = text.len() / 2_000;
        assert!((60..=110).contains(&average), "about 100 bytes a row, so 5 M rows are about 490 MB: {average}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_workbook_reads_back_through_the_files_connector() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        write_xlsx(&data.join("answers.xlsx"), 300).unwrap();
        write_csv(&data.join("answers.csv"), 300).unwrap();
        let xlsx = sync_file(&data, "answers.xlsx", &dir.path().join("xlsx"), 300).await.unwrap();
        assert_eq!(xlsx.rows, 300);
        // The same answers as the CSV's, cell for cell.
        let engine = |lake: &str| {
            let config = file_lake_config(&dir.path().join(lake)).unwrap();
            async move {
                let lake = config.open_lake().unwrap();
                let engine = txlake_engine::Engine::open(
                    &lake,
                    &[],
                    &txlake_engine::SqlSources::default(),
                    &txlake_engine::EngineSettings::default(),
                )
                .await
                .unwrap();
                let sql = "SELECT CAST(response_id AS BIGINT), email, department, team, survey, \
                           CAST(to_unixtime(submitted_at) AS BIGINT), CAST(score AS BIGINT), comment \
                           FROM bench.answers ORDER BY 1";
                let batches = engine.sql(sql).await.unwrap().collect().await.unwrap();
                arrow::util::pretty::pretty_format_batches(&batches).unwrap().to_string()
            }
        };
        sync_file(&data, "answers.csv", &dir.path().join("csv"), 300).await.unwrap();
        assert_eq!(engine("xlsx").await, engine("csv").await);
    }
}
