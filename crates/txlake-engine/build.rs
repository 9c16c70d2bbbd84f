//! Embeds the SQL that ships with txlake (`sql/**.sql` and `connectors/*/models/*.sql`) into
//! the engine, so the binary needs no files beside it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest.join("../..").canonicalize().expect("workspace root exists");
    let mut files = Vec::new();
    collect(&root, &root.join("sql"), &mut files);
    if let Ok(connectors) = std::fs::read_dir(root.join("connectors")) {
        for connector in connectors.flatten() {
            collect(&root, &connector.path().join("models"), &mut files);
        }
    }
    files.sort();
    let mut out = String::from("/// Every SQL file shipped with txlake: (path from the repository root, contents).\n");
    out.push_str("pub static EMBEDDED_SQL: &[(&str, &str)] = &[\n");
    for (relative, absolute) in &files {
        writeln!(out, "    ({relative:?}, include_str!({absolute:?})),").expect("writing to a String");
    }
    out.push_str("];\n");
    let target = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("embedded_sql.rs");
    std::fs::write(target, out).expect("OUT_DIR is writable");
    println!("cargo:rerun-if-changed={}", root.join("sql").display());
    println!("cargo:rerun-if-changed={}", root.join("connectors").display());
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, files);
        } else if path.extension().is_some_and(|e| e == "sql") {
            let relative = path.strip_prefix(root).expect("under the root").to_string_lossy().replace('\\', "/");
            files.push((relative, path.to_string_lossy().into_owned()));
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}
