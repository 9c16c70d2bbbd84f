//! What a canonical view's contract header says about it (`sql/model/<view>.sql`): its
//! description, key, relations to other views and column docs. The OData feed publishes
//! these as entity keys, navigation properties and descriptions; the engine checks them
//! against the view's columns at load.

use crate::error::{EngineError, Result};
use crate::sources::SqlFile;

/// A reference from one of a view's columns to another view's key (`-- relation:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    /// The relation's name (`customer`, `assignee`).
    pub name: String,
    /// The referring column of this view.
    pub column: String,
    /// The view whose key it holds.
    pub target: String,
}

/// The documented shape of a canonical view.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ViewDoc {
    /// The view (`customers`).
    pub name: String,
    /// `-- description:`.
    pub description: String,
    /// `-- key:`, the columns that identify a row.
    pub key: Vec<String>,
    /// `-- relation:` lines, in file order.
    pub relations: Vec<Relation>,
    /// `-- column <name>:` texts, in file order.
    pub columns: Vec<(String, String)>,
}

impl ViewDoc {
    /// Reads the header of a contract file; a malformed line is an error naming the file and line.
    pub(crate) fn parse(file: &SqlFile) -> Result<Self> {
        let mut doc = ViewDoc { name: file.stem().to_string(), ..Default::default() };
        for (index, line) in file.text.lines().enumerate() {
            let Some(comment) = line.trim().strip_prefix("--") else { break };
            let comment = comment.trim();
            let line_no = index + 1;
            if let Some(rest) = comment.strip_prefix("column ") {
                if let Some((name, text)) = rest.split_once(':') {
                    doc.columns.push((name.trim().to_string(), text.trim().to_string()));
                }
                continue;
            }
            let Some((key, value)) = comment.split_once(':') else { continue };
            let value = value.trim();
            match key.trim() {
                "description" => doc.description = value.to_string(),
                "key" => {
                    doc.key = value.split(',').map(str::trim).filter(|c| !c.is_empty()).map(str::to_string).collect();
                    if doc.key.is_empty() {
                        return Err(EngineError::file(&file.path, line_no, "`-- key:` names no column"));
                    }
                }
                "relation" => doc.relations.push(parse_relation(value).ok_or_else(|| {
                    EngineError::file(
                        &file.path,
                        line_no,
                        format!("`-- relation: {value}` must read `<name> = <column> -> <view>`"),
                    )
                })?),
                _ => {}
            }
        }
        Ok(doc)
    }

    /// Checks that the key and relations name columns of the view (`columns`) and existing
    /// views (`views`).
    pub(crate) fn check(&self, file: &SqlFile, columns: &[String], views: &[String]) -> Result<()> {
        let known = |c: &str| columns.iter().any(|k| k == c);
        for column in &self.key {
            if !known(column) {
                return Err(EngineError::file(
                    &file.path,
                    0,
                    format!(
                        "`-- key:` names `{column}`, which is not a column of the view; columns: {}",
                        columns.join(", ")
                    ),
                ));
            }
        }
        for relation in &self.relations {
            if !known(&relation.column) {
                return Err(EngineError::file(
                    &file.path,
                    0,
                    format!(
                        "relation `{}` refers from `{}`, which is not a column of the view",
                        relation.name, relation.column
                    ),
                ));
            }
            if !views.iter().any(|v| v == &relation.target) {
                return Err(EngineError::file(
                    &file.path,
                    0,
                    format!(
                        "relation `{}` points to `{}`, which is not a canonical view",
                        relation.name, relation.target
                    ),
                ));
            }
        }
        Ok(())
    }

    /// A column's documentation.
    pub fn column(&self, name: &str) -> Option<&str> {
        self.columns.iter().find(|(n, _)| n == name).map(|(_, text)| text.as_str())
    }
}

fn parse_relation(text: &str) -> Option<Relation> {
    let (name, rest) = text.split_once('=')?;
    let (column, target) = rest.split_once("->")?;
    let [name, column, target] = [name, column, target].map(str::trim);
    let simple = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    (simple(name) && simple(column) && simple(target)).then(|| Relation {
        name: name.into(),
        column: column.into(),
        target: target.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> SqlFile {
        SqlFile { path: "sql/model/tickets.sql".into(), text: text.into() }
    }

    #[test]
    fn the_header_gives_key_relations_and_column_docs() {
        let doc = ViewDoc::parse(&file(
            "-- view: tickets\n-- description: Support cases.\n-- key: ticket_key\n\
             -- relation: customer = customer_key -> customers\n-- column ticket_key: the key\n\
             -- column customer_key: who raised it\nSELECT 1",
        ))
        .unwrap();
        assert_eq!(doc.description, "Support cases.");
        assert_eq!(doc.key, ["ticket_key"]);
        assert_eq!(
            doc.relations,
            [Relation { name: "customer".into(), column: "customer_key".into(), target: "customers".into() }]
        );
        assert_eq!(doc.column("customer_key"), Some("who raised it"));
        let columns = ["ticket_key".to_string(), "customer_key".to_string()];
        doc.check(&file(""), &columns, &["customers".into()]).unwrap();
        let err = doc.check(&file(""), &columns, &["employees".into()]).unwrap_err().to_string();
        assert!(err.contains("`customers`, which is not a canonical view"), "{err}");
    }

    #[test]
    fn a_broken_header_names_the_line() {
        let err = ViewDoc::parse(&file("-- view: t\n-- relation: customer_key customers\nSELECT 1")).unwrap_err();
        assert!(err.to_string().starts_with("sql/model/tickets.sql:2:"), "{err}");
        let doc = ViewDoc::parse(&file("-- view: t\n-- key: nope\nSELECT 1")).unwrap();
        let err = doc.check(&file(""), &["id".into()], &[]).unwrap_err().to_string();
        assert!(err.contains("`nope`, which is not a column"), "{err}");
    }
}
