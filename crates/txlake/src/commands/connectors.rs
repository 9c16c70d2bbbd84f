//! `txlake connectors list|spec|check|discover|translate`.

use std::process::ExitCode;

use anyhow::bail;
use serde_json::{Value, json};
use txlake_connector::{Connector, ConnectorError, SurveyQuestion};

use crate::cli::{ConfigArg, ConnectorsCommand};
use crate::commands::text_table;

/// Runs a connectors subcommand.
pub async fn run(command: ConnectorsCommand) -> anyhow::Result<ExitCode> {
    match command {
        ConnectorsCommand::List { config } => {
            let registry = config.registry()?;
            let mut rows: Vec<Vec<String>> =
                registry.iter().map(|c| vec![c.name().to_string(), c.description().to_string()]).collect();
            rows.extend(registry.schemes().map(|(scheme, r)| {
                let target = if scheme == txlake_connector::airbyte_manifest::SCHEME {
                    "manifest.yaml path or URL"
                } else {
                    "command"
                };
                vec![format!("{scheme}:<{target}>"), r.description().into()]
            }));
            print!("{}", text_table(&["connector", "description"], &rows));
        }
        ConnectorsCommand::New { name, dir } => return scaffold(&name, &dir),
        ConnectorsCommand::Translate { path, name } => {
            let text = path.to_string_lossy();
            let path = std::path::PathBuf::from(
                text.strip_prefix(txlake_connector::airbyte_manifest::SCHEME)
                    .and_then(|t| t.strip_prefix(':'))
                    .unwrap_or(&text),
            );
            let origin = path.display().to_string();
            let manifest = std::fs::read_to_string(&path).map_err(|e| anyhow::anyhow!("{origin}: {e}"))?;
            let name = name.unwrap_or_else(|| txlake_connector::airbyte_manifest::name_from_path(&origin));
            let translated = txlake_connector::airbyte_manifest::translate(&origin, &name, &manifest, path.parent())?;
            print!("{}", translated.to_yaml()?);
            for note in &translated.notes {
                println!("# note: {note}");
            }
            // The translation is only useful if our engine accepts it: say so when it does not.
            if let Err(e) = translated.connector(&origin) {
                eprintln!("the translated manifest does not load: {e}");
                return Ok(ExitCode::FAILURE);
            }
        }
        ConnectorsCommand::Spec { config, connector } => {
            let connector = config.registry()?.resolve(&connector).await?;
            println!("{}", serde_json::to_string_pretty(&connector.spec().config_schema)?);
        }
        ConnectorsCommand::Check { config, target } => {
            let (connector, settings) = resolve(&config, &target).await?;
            connector.spec().validate(connector.name(), &settings)?;
            connector.check(&settings).await?;
            println!("ok: `{target}` ({}) is reachable and its configuration is valid", connector.name());
        }
        ConnectorsCommand::Discover { config, target, json } => {
            let (connector, settings) = resolve(&config, &target).await?;
            connector.spec().validate(connector.name(), &settings)?;
            let catalog = connector.discover(&settings).await?;
            if json {
                let streams: Vec<Value> = catalog
                    .streams
                    .iter()
                    .map(|s| {
                        json!({
                            "name": s.name,
                            "description": s.description,
                            "primary_key": s.primary_key,
                            "cursor_field": s.cursor_field,
                            "sync_modes": s.sync_modes,
                            "default_mode": s.default_mode,
                            "columns": s.schema.fields().iter().map(|f| json!({
                                "name": f.name(), "type": f.data_type().to_string(), "nullable": f.is_nullable()
                            })).collect::<Vec<_>>(),
                        })
                    })
                    .collect();
                let questions: Vec<Value> = catalog
                    .questions
                    .iter()
                    .map(|q| {
                        json!({
                            "survey_id": q.survey_id, "survey_title": q.survey_title, "field": q.field,
                            "question": q.question, "kind": q.kind, "scale": q.scale.map(|(low, high)| [low, high]),
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&json!({ "streams": streams, "questions": questions }))?);
            } else {
                let rows: Vec<Vec<String>> = catalog
                    .streams
                    .iter()
                    .map(|s| {
                        vec![
                            s.name.clone(),
                            s.default_mode.to_string(),
                            s.cursor_field.clone().unwrap_or_else(|| "-".into()),
                            s.primary_key.join(","),
                            s.schema.fields().len().to_string(),
                            s.description.clone(),
                        ]
                    })
                    .collect();
                print!("{}", text_table(&["stream", "default mode", "cursor", "key", "columns", "description"], &rows));
                if !catalog.questions.is_empty() {
                    print!("\n{}", questions_listing(&target, &catalog.questions));
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The survey questions a source describes, and a `survey_mapping` to start from: each
/// question on a scale is suggested as the survey kind whose convention that scale is.
fn questions_listing(target: &str, questions: &[SurveyQuestion]) -> String {
    let scale = |q: &SurveyQuestion| match q.scale {
        Some((low, high)) if q.scale_observed => format!("{low}–{high} seen"),
        Some((low, high)) => format!("{low}–{high}"),
        None => "-".into(),
    };
    let rows: Vec<Vec<String>> = questions
        .iter()
        .map(|q| vec![q.survey_title.clone(), q.field.clone(), q.kind.clone(), scale(q), shorten(&q.question, 60)])
        .collect();
    let mut out = format!("questions\n{}", text_table(&["survey", "field", "kind", "scale", "question"], &rows));
    out.push_str(&format!(
        "\n# A survey mapping to start from (txlake.toml; docs/surveys.md): keep the questions that measure\n# NPS, eNPS, CSAT, CES or CSI, and name the field holding the respondent's e-mail.\n[connections.{target}.survey_mapping]\nrespondent = {{ field = \"hidden.email\", kind = \"customer\" }}\n[connections.{target}.survey_mapping.questions]\n"
    ));
    for question in questions.iter().filter(|q| q.scale.is_some()) {
        let (low, high) = question.scale.unwrap_or_default();
        let suggestion = match (low, high) {
            // Answers seen in a sample say little about the scale: ask for it.
            _ if question.scale_observed => "survey = \"…\", scale = [lowest, highest]".to_string(),
            (0, 10) => "survey = \"nps\"".to_string(),
            (1, 5) => "survey = \"csat\"".to_string(),
            (1, 7) => "survey = \"ces\"".to_string(),
            _ => format!("survey = \"nps\", scale = [{low}, {high}], rescale = true"),
        };
        let key = if question.field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            question.field.clone()
        } else {
            format!("{:?}", question.field)
        };
        let note = if question.scale_observed {
            format!("answers seen {low}–{high}")
        } else {
            shorten(&question.question, 50)
        };
        out.push_str(&format!("# {key} = {{ {suggestion} }}   # {note}\n"));
    }
    out
}

/// The first `max` characters of `text` on one line, with … when cut.
fn shorten(text: &str, max: usize) -> String {
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= max { line } else { format!("{}…", line.chars().take(max - 1).collect::<String>()) }
}

/// The files `connectors new` writes: (path under the connector's folder, template).
const SCAFFOLD: &[(&str, &str)] = &[
    ("manifest.yaml", include_str!("scaffold/manifest.yaml")),
    ("models/customers.sql", include_str!("scaffold/customers.sql")),
    ("tests/fixtures/items.json", include_str!("scaffold/items.json")),
    ("tests/__NAME__.rs", include_str!("scaffold/fixture_test.rs")),
];

/// Writes a new connector's folder from the templates, refusing to overwrite anything.
fn scaffold(name: &str, dir: &std::path::Path) -> anyhow::Result<ExitCode> {
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid {
        bail!(
            "`{name}` is not a connector name: start with a lower-case letter and use a-z, 0-9 and _ (it names SQL schemas and folders)"
        );
    }
    let folder = dir.join(name);
    if folder.exists() {
        bail!("{} exists already; choose another name or remove it", folder.display());
    }
    for (path, template) in SCAFFOLD {
        let target = folder.join(path.replace("__NAME__", name));
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let text = template.replace("__NAME__", name).replace("__DIR__", &dir.display().to_string());
        std::fs::write(&target, text)?;
        println!("wrote {}", target.display());
    }
    // The scaffold must load as it is: a template that does not parse is a bug here.
    txlake_connector::DeclarativeConnector::from_manifest(
        &folder.join("manifest.yaml").display().to_string(),
        &std::fs::read_to_string(folder.join("manifest.yaml"))?,
    )?;
    println!(
        "\nnext:\n  1. edit {0}/manifest.yaml for the API (connectors/MANIFEST.md lists every key)\n  2. record real responses into {0}/tests/fixtures/\n  3. map streams onto the canonical views in {0}/models/ (sql/model/*.sql are the contracts)\n  4. txlake connectors discover --connectors-dir {1} {2}",
        folder.display(),
        dir.display(),
        name
    );
    Ok(ExitCode::SUCCESS)
}

/// A connection of the config file, or else a connector name with an empty configuration.
async fn resolve(config: &ConfigArg, target: &str) -> anyhow::Result<(std::sync::Arc<dyn Connector>, Value)> {
    let registry = config.registry()?;
    if config.config.exists() {
        let file = config.load()?;
        if let Some(connection) = file.connections.get(target) {
            return Ok((registry.resolve(&connection.connector).await?, connection.config.clone()));
        }
    }
    match registry.resolve(target).await {
        Ok(connector) => Ok((connector, json!({}))),
        // `airbyte:…` that could not start: its own error says what to fix.
        Err(e) if !matches!(e, ConnectorError::UnknownConnector { .. }) => Err(e.into()),
        Err(_) => bail!(
            "`{target}` is neither a connection in {} nor a connector; connectors: {}",
            config.config.display(),
            registry.names().join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_are_listed_with_a_mapping_to_start_from() {
        let question = |field: &str, scale: Option<(i64, i64)>| SurveyQuestion {
            survey_id: "f1".into(),
            survey_title: "Onboarding".into(),
            field: field.into(),
            question: "How likely are you to recommend   us\n to a friend?".into(),
            kind: "opinion_scale".into(),
            scale,
            scale_observed: false,
        };
        let out = questions_listing(
            "forms",
            &[question("nps_q", Some((0, 10))), question("QID2 1", Some((1, 10))), question("comment", None)],
        );
        assert!(
            out.contains("Onboarding  nps_q    opinion_scale  0–10   How likely are you to recommend us to a friend?"),
            "{out}"
        );
        assert!(out.contains("[connections.forms.survey_mapping]"), "{out}");
        assert!(out.contains("# nps_q = { survey = \"nps\" }"), "{out}");
        assert!(out.contains("# \"QID2 1\" = { survey = \"nps\", scale = [1, 10], rescale = true }"), "{out}");
        assert!(!out.contains("# comment ="), "questions without a scale get no suggestion: {out}");
        let seen = SurveyQuestion { scale_observed: true, ..question("score", Some((4, 9))) };
        let out = questions_listing("pulse", &[seen]);
        assert!(out.contains("4–9 seen"), "{out}");
        assert!(out.contains("# score = { survey = \"…\", scale = [lowest, highest] }   # answers seen 4–9"), "{out}");
    }
}
