//! The Helm chart, from the test suite so `cargo test --workspace` covers it: `helm/test.sh`
//! lints and renders `helm/txlake` with each `ci/` values file (helm-python-sdk, the real
//! Helm library), validates every manifest with `kubernetes-validate --strict`, checks that
//! the invalid values files are rejected, and runs this build's `txlake config check` on
//! every rendered `txlake.toml`. The script installs its pinned tools into a virtualenv.

use std::path::Path;
use std::process::Command;

use crate::support::txlake_bin;

#[test]
fn the_chart_lints_renders_validates_and_its_configs_pass_config_check() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let output = Command::new("bash")
        .arg(root.join("helm/test.sh"))
        .env("TXLAKE_BIN", txlake_bin())
        .output()
        .expect("bash runs helm/test.sh");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "helm/test.sh failed:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("helm: ") && stdout.contains(" 0 failed"), "{stdout}");
}
