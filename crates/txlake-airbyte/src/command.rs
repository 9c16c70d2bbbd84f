//! The command line after `airbyte:` — split like a shell would, started once per protocol
//! verb (`<program> <args…> spec`, `… read --config F --catalog F --state F`).

use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use txlake_connector::{ConfigIssue, ConnectorError};

/// A program with its leading arguments, as written in `connector = "airbyte:…"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    /// The text as written (without `airbyte:`), for messages.
    text: String,
    /// The program: a name looked up on `PATH`, or a path made absolute against the
    /// current directory.
    program: PathBuf,
    /// Arguments placed before the protocol verb.
    args: Vec<String>,
}

impl CommandLine {
    /// Splits `text` on whitespace, honouring `'single'` and `"double"` quotes and `\`
    /// escapes; the first word is the program. A program written as a relative path
    /// (`./source.py`, `bin/source`) resolves against the current directory.
    pub fn parse(text: &str) -> Result<Self, ConnectorError> {
        let words = split(text).map_err(|message| invalid(text, message))?;
        let Some((program, args)) = words.split_first() else {
            return Err(invalid(
                text,
                "no program given; write connector = \"airbyte:<program> [args]\", e.g. \"airbyte:source-faker\""
                    .into(),
            ));
        };
        let mut program = PathBuf::from(program);
        if program.components().count() > 1
            && program.is_relative()
            && let Ok(dir) = std::env::current_dir()
        {
            program = dir.join(program);
        }
        Ok(Self { text: text.trim().to_string(), program, args: args.to_vec() })
    }

    /// The command as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The program started.
    pub fn program(&self) -> &Path {
        &self.program
    }

    /// The arguments given before the protocol verb.
    pub fn args(&self) -> &[String] {
        &self.args
    }

    /// Starts `<program> <args…> <verb_args…>` with stdout and stderr piped, stdin closed;
    /// the process is killed when its handle is dropped.
    pub(crate) fn spawn<I, S>(&self, verb_args: I) -> Result<tokio::process::Child, ConnectorError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        tokio::process::Command::new(&self.program)
            .args(&self.args)
            .args(verb_args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                let hint = if e.kind() == std::io::ErrorKind::NotFound {
                    "; set connector = \"airbyte:/absolute/path\" (or a program on PATH)"
                } else {
                    ""
                };
                ConnectorError::InvalidConfig {
                    connector: format!("airbyte:{}", self.text),
                    issues: vec![ConfigIssue {
                        path: "connector".into(),
                        message: format!("cannot start `{}`: {e}{hint}", self.program.display()),
                    }],
                }
            })
    }
}

impl fmt::Display for CommandLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn invalid(text: &str, message: String) -> ConnectorError {
    ConnectorError::InvalidConfig {
        connector: format!("airbyte:{text}"),
        issues: vec![ConfigIssue { path: "connector".into(), message }],
    }
}

/// Shell-like word splitting (no variables, globs or operators).
fn split(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => words.extend(word.take()),
            '\'' => {
                let current = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => current.push(c),
                        None => return Err(format!("unclosed ' in `{text}`")),
                    }
                }
            }
            '"' => {
                let current = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\')) => current.push(c),
                            Some(c) => {
                                current.push('\\');
                                current.push(c);
                            }
                            None => return Err(format!("unclosed \" in `{text}`")),
                        },
                        Some(c) => current.push(c),
                        None => return Err(format!("unclosed \" in `{text}`")),
                    }
                }
            }
            '\\' => match chars.next() {
                Some(c) => word.get_or_insert_with(String::new).push(c),
                None => return Err(format!("`{text}` ends with a lone \\")),
            },
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_a_shell() {
        assert_eq!(
            split("  docker run -i --rm  airbyte/source-faker:latest ").unwrap(),
            ["docker", "run", "-i", "--rm", "airbyte/source-faker:latest"]
        );
        assert_eq!(
            split(r#"python3 'my source.py' --name "a \"b\" c" x\ y ''"#).unwrap(),
            ["python3", "my source.py", "--name", "a \"b\" c", "x y", ""]
        );
        assert!(split("python3 'open").unwrap_err().contains("unclosed '"));
        assert!(split("a \"b").unwrap_err().contains("unclosed \""));
    }

    #[test]
    fn the_first_word_is_the_program_and_relative_paths_are_made_absolute() {
        let bare = CommandLine::parse("source-faker --debug").unwrap();
        assert_eq!(bare.program(), Path::new("source-faker"), "bare names are looked up on PATH");
        assert_eq!(bare.args(), ["--debug"]);
        assert_eq!(bare.to_string(), "source-faker --debug");

        let relative = CommandLine::parse("bin/source x").unwrap();
        assert!(relative.program().is_absolute());
        assert!(relative.program().ends_with("bin/source"));
        assert_eq!(CommandLine::parse("/opt/s").unwrap().program(), Path::new("/opt/s"));

        let err = CommandLine::parse("   ").unwrap_err().to_string();
        assert!(err.contains("no program"), "{err}");
    }

    #[tokio::test]
    async fn a_missing_program_says_how_to_fix_it() {
        let command = CommandLine::parse("./no-such-source --flag").unwrap();
        let err = command.spawn(["spec"]).unwrap_err().to_string();
        assert!(err.contains("cannot start `") && err.contains("no-such-source`"), "{err}");
        assert!(err.contains("No such file"), "{err}");
        assert!(err.contains("set connector = \"airbyte:/absolute/path\""), "{err}");
    }
}
