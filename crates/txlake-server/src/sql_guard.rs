//! The read-only check on analysts' SQL for `POST /api/v1/query`, which runs over a session
//! shared by every caller: nothing a query does may change it, the lake, or read outside it.
//!
//! [`check`] allows exactly one statement, and only a query (`SELECT`, `WITH`, `VALUES`, set
//! operations) or `EXPLAIN [ANALYZE]` of one. Anywhere in it, including subqueries, CTEs and
//! joins, it refuses functions that read files or URLs (`read_parquet`, `read_*`, `parquet_scan`,
//! `*_scan`) and table names that look like a path or URL (`FROM 'data/x.parquet'`), which
//! DataFusion reads as files when `url_table` is on. The check works on the syntax alone, so it is
//! a first line: the session must also not enable `url_table` nor register other file-reading
//! functions, and the handler plans with [`sql_options`], which refuses DDL, DML and statements
//! once more at planning.

use std::ops::ControlFlow;

use datafusion::error::DataFusionError;
use datafusion::execution::context::SQLOptions;
use datafusion::sql::parser::{DFParser, Statement as DFStatement};
use datafusion::sql::sqlparser::ast::{Expr, ObjectName, Select, Statement, TableFactor, Visit, Visitor};

use crate::error::ApiError;

/// Checks that `sql` is one read-only query; the 400 otherwise names what was refused.
///
/// Codes: `sql_syntax` (with the parser's message), `empty_query` (nothing but whitespace and
/// comments), `multiple_statements`, and `read_only` for anything but a query or `EXPLAIN` of one.
pub fn check(sql: &str) -> Result<(), ApiError> {
    let mut statements = DFParser::parse_sql(sql).map_err(|e| {
        let message = match e {
            DataFusionError::SQL(e, _) => e.to_string(),
            e => e.to_string(),
        };
        ApiError::bad_request("sql_syntax", message)
    })?;
    let statement = match (statements.pop_front(), statements.len()) {
        (None, _) => return Err(ApiError::bad_request("empty_query", "the query is empty; send one SELECT statement")),
        (Some(statement), 0) => statement,
        (Some(_), more) => {
            return Err(ApiError::bad_request(
                "multiple_statements",
                format!("send one statement at a time; got {}", more + 1),
            ));
        }
    };
    match refusal(&statement) {
        None => Ok(()),
        Some(message) => Err(ApiError::bad_request("read_only", message)),
    }
}

/// Session options for planning analysts' SQL: no DDL, no DML, no statements (`SET`, transactions,
/// `PREPARE`…). The planner enforces these whatever [`check`] let through.
pub fn sql_options() -> SQLOptions {
    SQLOptions::new().with_allow_ddl(false).with_allow_dml(false).with_allow_statements(false)
}

/// Why `statement` is refused, if it is.
fn refusal(statement: &DFStatement) -> Option<String> {
    match statement {
        DFStatement::Statement(statement) => statement.visit(&mut ReadOnly).break_value(),
        // EXPLAIN ANALYZE runs what it explains, so that must be a query too.
        DFStatement::Explain(explain) => refusal(&explain.statement),
        DFStatement::CreateExternalTable(_) => Some(not_a_query("CREATE EXTERNAL TABLE")),
        DFStatement::CopyTo(_) => Some(not_a_query("COPY")),
        DFStatement::Reset(_) => Some(not_a_query("RESET")),
    }
}

fn not_a_query(what: &str) -> String {
    format!("only SELECT, WITH and EXPLAIN are allowed; got {what}")
}

/// Walks a statement, breaking with the message for the first thing that is not read-only.
struct ReadOnly;

impl Visitor for ReadOnly {
    type Break = String;

    // Also sees statements nested in a query, such as `WITH t AS (...) INSERT ...`.
    fn pre_visit_statement(&mut self, statement: &Statement) -> ControlFlow<String> {
        match statement {
            Statement::Query(_) => ControlFlow::Continue(()),
            other => ControlFlow::Break(not_a_query(&statement_kind(other))),
        }
    }

    // `SELECT ... INTO t` creates a table.
    fn pre_visit_select(&mut self, select: &Select) -> ControlFlow<String> {
        match select.into {
            Some(_) => ControlFlow::Break(not_a_query("SELECT INTO")),
            None => ControlFlow::Continue(()),
        }
    }

    fn pre_visit_table_factor(&mut self, table_factor: &TableFactor) -> ControlFlow<String> {
        match table_factor {
            TableFactor::Table { name, args: Some(_), .. } | TableFactor::Function { name, .. } => reads_files(name),
            TableFactor::Table { name, args: None, .. } => looks_like_path(name),
            _ => ControlFlow::Continue(()),
        }
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<String> {
        match expr {
            Expr::Function(function) => reads_files(&function.name),
            _ => ControlFlow::Continue(()),
        }
    }
}

/// Refuses a function named like DataFusion's file readers (`read_parquet`, `parquet_scan`…).
fn reads_files(name: &ObjectName) -> ControlFlow<String> {
    let Some(function) = name.0.last().and_then(|part| part.as_ident()) else {
        return ControlFlow::Continue(());
    };
    let lower = function.value.to_ascii_lowercase();
    if lower.starts_with("read_") || lower.ends_with("_scan") {
        ControlFlow::Break(format!(
            "queries may read only the lake's tables, not files or URLs; got {}()",
            function.value
        ))
    } else {
        ControlFlow::Continue(())
    }
}

/// Refuses a table named by a string literal (only ever a path), or a quoted name with `/`, `\`,
/// `.` or `:` in it, which no lake table has but paths and URLs do.
fn looks_like_path(name: &ObjectName) -> ControlFlow<String> {
    let path_like = name.0.iter().filter_map(|part| part.as_ident()).any(|ident| match ident.quote_style {
        Some('\'') => true,
        Some(_) => ident.value.contains(['/', '\\', '.', ':']),
        None => false,
    });
    if path_like {
        ControlFlow::Break(format!("queries may read only the lake's tables, not files or URLs; got table {name}"))
    } else {
        ControlFlow::Continue(())
    }
}

/// A statement's kind as SQL keywords (`CreateTable` → `CREATE TABLE`), from its AST variant name.
fn statement_kind(statement: &Statement) -> String {
    let debug = format!("{statement:?}");
    let variant = debug.split(|c: char| !c.is_ascii_alphanumeric()).next().unwrap_or_default();
    let mut kind = String::with_capacity(variant.len() + 4);
    for (i, c) in variant.chars().enumerate() {
        if i > 0 && c.is_ascii_uppercase() {
            kind.push(' ');
        }
        kind.push(c.to_ascii_uppercase());
    }
    kind
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    fn refused(sql: &str) -> ApiError {
        let err = check(sql).expect_err(sql);
        assert_eq!(err.status, StatusCode::BAD_REQUEST, "{sql}");
        err
    }

    fn assert_read_only(sql: &str, names: &str) {
        let err = refused(sql);
        assert_eq!(err.code, "read_only", "{sql}: {}", err.message);
        assert!(err.message.contains(names), "{sql}: `{}` does not name {names}", err.message);
    }

    #[test]
    fn queries_are_accepted() {
        for sql in [
            "SELECT 1",
            "select segment, avg(score) from tx.customers group by segment order by 2 desc limit 10",
            "WITH s AS (SELECT * FROM tx.surveys) SELECT count(*) FROM s JOIN tx.customers c ON s.id = c.id",
            "SELECT a FROM t UNION ALL SELECT a FROM u EXCEPT SELECT 3",
            "VALUES (1, 'a'), (2, 'b')",
            "EXPLAIN SELECT * FROM tx.customers",
            "EXPLAIN ANALYZE SELECT * FROM tx.customers WHERE id IN (SELECT id FROM tx.surveys)",
            "SELECT * FROM generate_series(1, 10)",
            "SELECT * FROM tx.\"Customers\" AS \"my.alias\"",
            "SELECT 'a/b.parquet' AS path, upper('read_csv')",
            "  SELECT 1; -- trailing comment",
        ] {
            assert_eq!(check(sql), Ok(()), "{sql}");
        }
    }

    #[test]
    fn statements_that_change_things_are_refused_by_name() {
        for (sql, names) in [
            ("CREATE TABLE t (a INT)", "CREATE TABLE"),
            ("CREATE VIEW v AS SELECT 1", "CREATE VIEW"),
            ("DROP TABLE tx.customers", "DROP"),
            ("ALTER TABLE t ADD COLUMN b INT", "ALTER TABLE"),
            ("INSERT INTO t VALUES (1)", "INSERT"),
            ("UPDATE t SET a = 1", "UPDATE"),
            ("DELETE FROM t", "DELETE"),
            ("MERGE INTO t USING u ON t.a = u.a WHEN MATCHED THEN DELETE", "MERGE"),
            ("COPY (SELECT 1) TO '/tmp/x.csv'", "COPY"),
            ("CREATE EXTERNAL TABLE x STORED AS PARQUET LOCATION '/etc/'", "CREATE EXTERNAL TABLE"),
            ("SET datafusion.execution.batch_size = 1", "SET"),
            ("SHOW ALL", "SHOW"),
            ("RESET datafusion.execution.batch_size", "RESET"),
            ("PREPARE q(INT) AS SELECT $1", "PREPARE"),
            ("EXECUTE q(1)", "EXECUTE"),
            ("SELECT * INTO t2 FROM t", "SELECT INTO"),
            ("EXPLAIN ANALYZE INSERT INTO t VALUES (1)", "INSERT"),
            ("EXPLAIN CREATE EXTERNAL TABLE x STORED AS CSV LOCATION 'x.csv'", "CREATE EXTERNAL TABLE"),
        ] {
            assert_read_only(sql, names);
            assert!(refused(sql).message.starts_with("only SELECT, WITH and EXPLAIN are allowed"), "{sql}");
        }
    }

    #[test]
    fn reading_files_is_refused_anywhere() {
        for (sql, names) in [
            ("SELECT * FROM read_parquet('/etc/passwd')", "read_parquet()"),
            ("SELECT * FROM READ_CSV('x.csv')", "READ_CSV()"),
            ("SELECT * FROM read_json('x')", "read_json()"),
            ("SELECT * FROM read_avro('x')", "read_avro()"),
            ("SELECT * FROM parquet_scan('x')", "parquet_scan()"),
            ("SELECT * FROM csv_scan('x')", "csv_scan()"),
            ("WITH f AS (SELECT * FROM read_parquet('s3://b/k')) SELECT * FROM f", "read_parquet()"),
            ("SELECT * FROM tx.customers c JOIN read_csv('x.csv') r ON c.id = r.id", "read_csv()"),
            ("SELECT * FROM tx.customers WHERE id IN (SELECT id FROM parquet_scan('x'))", "parquet_scan()"),
            ("SELECT (SELECT count(*) FROM read_json('x')) AS n", "read_json()"),
            ("SELECT read_text('x')", "read_text()"),
            ("EXPLAIN SELECT * FROM read_parquet('x')", "read_parquet()"),
            ("SELECT * FROM 'data/x.parquet'", "'data/x.parquet'"),
            ("SELECT * FROM 'customers'", "'customers'"),
            ("SELECT * FROM \"https://example.com/x.csv\"", "https://example.com/x.csv"),
            ("SELECT * FROM tx.customers UNION SELECT * FROM \"x.parquet\"", "x.parquet"),
        ] {
            assert_read_only(sql, names);
            assert!(refused(sql).message.contains("not files or URLs"), "{sql}");
        }
    }

    #[test]
    fn one_statement_exactly() {
        let err = refused("SELECT 1; SELECT 2");
        assert_eq!(err.code, "multiple_statements");
        assert!(err.message.contains("got 2"), "{}", err.message);
        assert_eq!(refused("SELECT 1; DROP TABLE t").code, "multiple_statements");
        for sql in ["", "   ", ";", "-- just a comment", "/* nothing */ ;"] {
            assert_eq!(refused(sql).code, "empty_query", "{sql:?}");
        }
    }

    #[test]
    fn syntax_errors_carry_the_parser_message() {
        let err = refused("SELEC 1");
        assert_eq!(err.code, "sql_syntax");
        assert!(err.message.contains("SELEC"), "{}", err.message);
        assert_eq!(refused("SELECT * FROM").code, "sql_syntax");
    }

    #[test]
    fn sql_options_refuse_ddl_dml_and_statements() {
        let ctx = datafusion::prelude::SessionContext::new();
        let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        for sql in ["CREATE TABLE t (a INT)", "SET datafusion.execution.batch_size = 1"] {
            assert!(rt.block_on(ctx.sql_with_options(sql, sql_options())).is_err(), "{sql}");
        }
        assert!(rt.block_on(ctx.sql_with_options("SELECT 1", sql_options())).is_ok());
    }
}
