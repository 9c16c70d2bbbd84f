//! The web console end to end, in a real browser: a small sample lake of a year synced by the
//! `txlake` binary, the real `txlake serve` on 127.0.0.1 (a random port) with a viewer and an admin
//! key, and `tests/browser/run.sh` (playwright-core driving Debian's chromium, every request
//! beyond 127.0.0.1 blocked) running every `tests/browser/*.test.js` against it. Screenshots
//! of every page land in `target/browser-screenshots/`.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use txlake_server::auth::{Role, config_snippet, generate_key};

use crate::support::{small_world, txlake, txlake_bin, write_config};

/// A `txlake serve` child process, killed when dropped (a failed test leaves no server).
struct ServeProcess {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ServeProcess {
    /// Starts `txlake serve --config CONFIG` on a random loopback port and waits for `/readyz`.
    fn start(config: &Path, log: PathBuf) -> Self {
        let mut child = Command::new(txlake_bin())
            .args(["serve", "--config", config.to_str().unwrap(), "--listen", "127.0.0.1:0"])
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("server log file"))
            .spawn()
            .expect("txlake serve starts");
        // The banner names the port the OS chose: "txlake API on http://127.0.0.1:PORT: docs at …".
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let banner = lines.next().and_then(Result::ok).unwrap_or_default();
        let base = banner
            .split_whitespace()
            .find(|word| word.starts_with("http://"))
            .map(|url| url.trim_end_matches(':').to_string());
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        let server = ServeProcess { child, base: base.unwrap_or_default(), log };
        assert!(server.base.starts_with("http://127.0.0.1:"), "no address in the banner {banner:?}:\n{}", server.log());
        server.wait_ready();
        server
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let url = format!("{}/readyz", self.base);
        loop {
            if runtime.block_on(reqwest::get(&url)).is_ok_and(|response| response.status().is_success()) {
                return;
            }
            assert!(Instant::now() < deadline, "the server did not get ready in 60 s:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

#[test]
fn every_console_page_renders_with_data_and_no_console_errors_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    // A small world over a year: the pages' tests compare quarters and months (per country and
    // segment: 2,000 customers), and need teams above and under the eNPS privacy threshold (30
    // employees).
    let mut world = small_world(None);
    world["days"] = 365.into();
    world["customers"] = 2000.into();
    let config = write_config(dir.path(), &world, 100_000);
    let sync = txlake(&["sync", "--quiet", "--config", config.to_str().unwrap()]);
    assert!(sync.status.success(), "sync failed:\n{}", String::from_utf8_lossy(&sync.stderr));

    let (viewer, admin) = (generate_key(), generate_key());
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push('\n');
    text.push_str(&config_snippet("bi", Role::Viewer, &viewer.sha256));
    text.push_str(&config_snippet("ops", Role::Admin, &admin.sha256));
    std::fs::write(&config, text).unwrap();
    let server = ServeProcess::start(&config, dir.path().join("serve.log"));

    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap();
    let screenshots = root.join("target/browser-screenshots");
    let output = Command::new("bash")
        .arg(root.join("tests/browser/run.sh"))
        .env("TXLAKE_URL", &server.base)
        .env("TXLAKE_VIEWER_KEY", &viewer.key)
        .env("TXLAKE_ADMIN_KEY", &admin.key)
        .env("TXLAKE_SCREENSHOTS", &screenshots)
        .output()
        .expect("bash runs tests/browser/run.sh");
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    assert!(
        output.status.success() && stdout.contains(" 0 failed"),
        "the browser tests failed:\n{stdout}\n{}\n--- server log\n{}",
        String::from_utf8_lossy(&output.stderr),
        server.log()
    );
}
