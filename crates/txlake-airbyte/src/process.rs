//! One run of the source program for one protocol verb: its stdout read line by line, its
//! stderr kept as a bounded [`Tail`], and its exit turned into an error that names the
//! command, the exit code (or signal) and the end of stderr.

use std::ffi::OsStr;
use std::process::ExitStatus;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncRead, BufReader};
use tokio::process::{Child, ChildStdout};
use txlake_connector::ConnectorError;

use crate::command::CommandLine;
use crate::protocol::{self, ConnectionStatus, Line, Message, SpecMessage};
use crate::tail::Tail;

/// How long to wait for stderr to close once the process has exited (a grandchild may
/// keep it open).
const STDERR_GRACE: Duration = Duration::from_secs(2);

/// A running source process.
pub struct Process {
    label: String,
    child: Child,
    stdout: BufReader<ChildStdout>,
    stderr: Arc<Mutex<Tail>>,
    stderr_done: tokio::task::JoinHandle<()>,
}

impl Process {
    /// Starts `<command> <verb> <args…>`.
    pub fn start<S: AsRef<OsStr>>(command: &CommandLine, verb: &str, args: &[S]) -> Result<Self, ConnectorError> {
        let mut child = command.spawn(std::iter::once(OsStr::new(verb)).chain(args.iter().map(AsRef::as_ref)))?;
        let label = format!("{command} {verb}");
        let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
            return Err(ConnectorError::Internal(format!("`{label}` started without piped stdout and stderr")));
        };
        let tail = Arc::new(Mutex::new(Tail::default()));
        let stderr_done = tokio::spawn(keep_tail(stderr, tail.clone(), label.clone()));
        Ok(Self { label, child, stdout: BufReader::with_capacity(256 * 1024, stdout), stderr: tail, stderr_done })
    }

    /// `<command> <verb>`, for messages.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Reads the next stdout line into `line` (cleared first); `false` at the end.
    pub async fn next_line(&mut self, line: &mut Vec<u8>) -> Result<bool, ConnectorError> {
        line.clear();
        let read = self
            .stdout
            .read_until(b'\n', line)
            .await
            .map_err(|e| ConnectorError::Source(format!("reading the output of `{}`: {e}", self.label)))?;
        Ok(read > 0)
    }

    /// Waits for the process to exit.
    pub async fn finish(mut self) -> Result<Exit, ConnectorError> {
        let status = self
            .child
            .wait()
            .await
            .map_err(|e| ConnectorError::Source(format!("waiting for `{}`: {e}", self.label)))?;
        let _ = tokio::time::timeout(STDERR_GRACE, &mut self.stderr_done).await;
        let stderr = self.stderr.lock().unwrap_or_else(|p| p.into_inner()).clone();
        Ok(Exit { label: self.label, status, stderr })
    }
}

async fn keep_tail(stderr: impl AsyncRead + Unpin, tail: Arc<Mutex<Tail>>, label: String) {
    let mut reader = BufReader::new(stderr);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                let text = String::from_utf8_lossy(&line);
                let text = text.trim_end();
                tracing::debug!(source = %label, "stderr: {text}");
                tail.lock().unwrap_or_else(|p| p.into_inner()).push(text);
            }
        }
    }
}

/// How a process ended.
#[derive(Debug)]
pub struct Exit {
    label: String,
    status: ExitStatus,
    stderr: Tail,
}

impl Exit {
    /// Whether it exited with code 0.
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// `exit code 3`, or `killed by signal 9`.
    pub fn status_text(&self) -> String {
        if let Some(code) = self.status.code() {
            return format!("exit code {code}");
        }
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt as _;
            if let Some(signal) = self.status.signal() {
                let name = match signal {
                    6 => " (SIGABRT)",
                    9 => " (SIGKILL)",
                    11 => " (SIGSEGV)",
                    15 => " (SIGTERM)",
                    _ => "",
                };
                return format!("killed by signal {signal}{name}");
            }
        }
        self.status.to_string()
    }

    /// The error for a failed run: the command, what it ended with, what it reported in
    /// `TRACE` errors, and the end of its stderr.
    pub fn failure(&self, what: &str, trace_errors: &[String]) -> ConnectorError {
        let mut text = format!("`{}` {what} ({})", self.label, self.status_text());
        for error in trace_errors {
            text.push_str(&format!("\nthe source reported: {error}"));
        }
        if self.stderr.is_empty() {
            text.push_str("\nstderr was empty");
        } else {
            text.push_str(&format!("\nstderr (last lines):\n{}", self.stderr));
        }
        ConnectorError::Source(text)
    }
}

/// What a short verb (`spec`, `check`, `discover`) answered.
#[derive(Debug, Default)]
pub struct Answers {
    /// `SPEC` messages.
    pub specs: Vec<SpecMessage>,
    /// `CONNECTION_STATUS` messages.
    pub statuses: Vec<ConnectionStatus>,
    /// `CATALOG` messages' `catalog`.
    pub catalogs: Vec<serde_json::Value>,
    /// `TRACE` errors, as text.
    pub trace_errors: Vec<String>,
}

/// Runs a short verb to its end, collecting its answers; `LOG` lines and stray output go to
/// the tracing log.
pub async fn run_to_end<S: AsRef<OsStr>>(
    command: &CommandLine,
    verb: &str,
    args: &[S],
) -> Result<(Answers, Exit), ConnectorError> {
    let mut process = Process::start(command, verb, args)?;
    let mut answers = Answers::default();
    let mut line = Vec::new();
    while process.next_line(&mut line).await? {
        match protocol::parse_line(&line)? {
            Line::Message(Message::Spec(spec)) => answers.specs.push(spec),
            Line::Message(Message::ConnectionStatus(status)) => answers.statuses.push(status),
            Line::Message(Message::Catalog(catalog)) => answers.catalogs.push(catalog),
            Line::Message(Message::Trace(trace)) => answers.trace_errors.extend(trace.error_text()),
            Line::Message(Message::Log(log)) => {
                tracing::debug!(source = %process.label(), level = %log.level, "{}", log.message)
            }
            Line::Message(_) | Line::Blank => {}
            Line::Other => tracing::warn!(
                source = %process.label(),
                "not an Airbyte message: {}",
                protocol::snippet(String::from_utf8_lossy(&line).trim_end(), 300)
            ),
        }
    }
    let exit = process.finish().await?;
    Ok((answers, exit))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> CommandLine {
        CommandLine::parse(&format!("sh -c '{script}' source")).unwrap()
    }

    #[tokio::test]
    async fn answers_are_collected_and_stray_lines_skipped() {
        let script =
            r#"echo "hello"; echo "{\"type\":\"SPEC\",\"spec\":{\"connectionSpecification\":{}}}"; echo "verb=$1" >&2"#;
        let (answers, exit) = run_to_end(&sh(script), "spec", &[] as &[&str]).await.unwrap();
        assert!(exit.success());
        assert_eq!(answers.specs.len(), 1);
        assert_eq!(exit.stderr.lines().collect::<Vec<_>>(), ["verb=spec"], "the verb follows the args");
    }

    #[tokio::test]
    async fn failures_name_the_command_the_code_and_the_stderr_tail() {
        let script = r#"for i in $(seq 1 80); do echo "line $i" >&2; done; exit 3"#;
        let (_, exit) = run_to_end(&sh(script), "check", &["--config", "x"]).await.unwrap();
        assert!(!exit.success());
        let err = exit.failure("failed", &["Bad key [config_error]".into()]).to_string();
        assert!(err.contains("check` failed (exit code 3)"), "{err}");
        assert!(err.contains("the source reported: Bad key"), "{err}");
        assert!(err.contains("line 80") && err.contains("line 31") && !err.contains("line 30\n"), "{err}");
        assert!(err.contains("(30 earlier lines)"), "{err}");
    }

    #[tokio::test]
    async fn a_killed_process_reports_the_signal() {
        let (_, exit) = run_to_end(&sh("kill -9 $$"), "read", &[] as &[&str]).await.unwrap();
        assert_eq!(exit.status_text(), "killed by signal 9 (SIGKILL)");
        assert!(exit.failure("crashed", &[]).to_string().contains("stderr was empty"));
    }
}
