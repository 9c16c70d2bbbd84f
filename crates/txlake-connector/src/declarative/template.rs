//! Interpolation in manifests, with minijinja: `{{ config.x }}`, `{{ state.cursor }}`,
//! `{{ slice.start }}`, `{{ response.x }}`, `{{ headers.x }}`, `{{ last_record.x }}`,
//! `{{ partition.x }}`, `{{ next_page_token }}`, and date macros (`now_utc()`,
//! `day_delta(n)`, `| unix_seconds`, `| unix_ms`, `| rfc3339`, `| format_datetime(fmt)`),
//! and `| to_number` (a number, or a text that is one, as a number; anything else `none`).
//!
//! Missing values are empty rather than errors (`{{ response.paging.next.after }}` on the
//! last page renders `""`), which is what stop conditions test.
//!
//! A manifest with `templates: airbyte` gets Airbyte's variables, macros, filters and
//! typing instead ([`super::template_airbyte`]).

use minijinja::{Environment, UndefinedBehavior, Value as JinjaValue};
use serde_json::Value;

use super::cursor;
use super::manifest::{CursorFormat, TemplateDialect};
use super::template_airbyte;
use crate::error::ConnectorError;

/// The compiled-on-demand template environment of one connector.
pub struct Templates {
    env: Environment<'static>,
    dialect: TemplateDialect,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Templates")
    }
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

impl Templates {
    /// An environment with txlake's functions and filters.
    pub fn new() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Chainable);
        env.add_function("now_utc", || cursor::rfc3339(whole_seconds(cursor::now())));
        env.add_function("today_utc", || cursor::format_text(cursor::now(), &CursorFormat::Date));
        env.add_function("day_delta", |days: i64| {
            cursor::rfc3339(whole_seconds(cursor::now()) + days * 86_400_000_000)
        });
        env.add_filter("unix_seconds", |v: JinjaValue| micros_of(&v).map(|m| m.div_euclid(1_000_000)));
        env.add_filter("unix_ms", |v: JinjaValue| micros_of(&v).map(|m| m.div_euclid(1_000)));
        env.add_filter("rfc3339", |v: JinjaValue| micros_of(&v).map(cursor::rfc3339));
        env.add_filter("format_datetime", |v: JinjaValue, pattern: String| {
            micros_of(&v).map(|m| cursor::format_text(m, &CursorFormat::Custom(pattern)))
        });
        env.add_filter("to_number", |v: JinjaValue| to_number(&v));
        env.add_filter("b64encode", |v: String| {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.encode(v)
        });
        Self { env, dialect: TemplateDialect::Native }
    }

    /// An environment with Airbyte's variables, macros, filters and Python typing
    /// (`templates: airbyte`); txlake's own functions and filters stay available where
    /// Airbyte has no function of that name.
    pub fn airbyte() -> Self {
        Self { env: airbyte_environment().clone(), dialect: TemplateDialect::Airbyte }
    }

    /// The environment of a manifest's `templates:` dialect.
    pub fn for_dialect(dialect: TemplateDialect) -> Self {
        match dialect {
            TemplateDialect::Native => Self::new(),
            TemplateDialect::Airbyte => Self::airbyte(),
        }
    }

    /// Renders a template to text. `what` names the manifest key in errors.
    pub fn render(&self, template: &str, context: &JinjaValue, what: &str) -> Result<String, ConnectorError> {
        if !template.contains("{{") && !template.contains("{%") {
            return Ok(template.to_string());
        }
        if self.dialect == TemplateDialect::Airbyte {
            // Airbyte reads the text back as a Python literal, then writes it with `str()`;
            // a `None` is left out of headers and parameters there, so it is empty here.
            let text = self.render_airbyte(template, context, what)?;
            return Ok(match template_airbyte::literal_eval(&text) {
                Some(Value::Null) => String::new(),
                Some(value) => template_airbyte::py_str_json(&value),
                None => text,
            });
        }
        self.env.render_str(template, context).map_err(|e| template_error(what, template, &e))
    }

    /// Renders an Airbyte template to its text, with Airbyte's variables over `context`.
    fn render_airbyte(&self, template: &str, context: &JinjaValue, what: &str) -> Result<String, ConnectorError> {
        let source = template_airbyte::rewrite_duration_arithmetic(template);
        let vars = template_airbyte::airbyte_vars(context.clone());
        // A template that is one `{{ expression }}` (most are; record filters run per
        // record) is compiled once and printed as the template would print it.
        if let Some(expression) = exact_sole_expression(&source) {
            return template_airbyte::cached_expression(airbyte_environment(), expression)
                .and_then(|e| e.eval(vars))
                .map(|value| template_airbyte::py_str(&value))
                .map_err(|e| template_error(what, template, &e));
        }
        self.env.render_str(&source, vars).map_err(|e| template_error(what, template, &e))
    }

    /// Renders a JSON value: strings are templates; a string that is exactly one
    /// `{{ expression }}` keeps the expression's type (a number stays a number). With
    /// Airbyte's templates every rendered string that reads as a Python literal becomes
    /// that value (`"{{ 10 }}"` → 10, `"{{ ['a'] }}"` → a list, `"None"` → null).
    pub fn render_value(&self, value: &Value, context: &JinjaValue, what: &str) -> Result<Value, ConnectorError> {
        if let (TemplateDialect::Airbyte, Value::String(text)) = (self.dialect, value) {
            if !text.contains("{{") && !text.contains("{%") {
                return Ok(value.clone());
            }
            let rendered = self.render_airbyte(text, context, what)?;
            return Ok(template_airbyte::literal_eval(&rendered).unwrap_or(Value::String(rendered)));
        }
        Ok(match value {
            Value::String(text) => match sole_expression(text) {
                Some(expression) => {
                    let result = self
                        .env
                        .compile_expression(expression)
                        .and_then(|e| e.eval(context))
                        .map_err(|e| template_error(what, text, &e))?;
                    if result.is_undefined() || result.is_none() {
                        Value::Null
                    } else {
                        serde_json::to_value(&result).map_err(|e| ConnectorError::Internal(format!("{what}: {e}")))?
                    }
                }
                None => Value::String(self.render(text, context, what)?),
            },
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| self.render_value(v, context, &format!("{what}[{i}]")))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), self.render_value(v, context, &format!("{what}.{k}"))?)))
                    .collect::<Result<_, ConnectorError>>()?,
            ),
            other => other.clone(),
        })
    }

    /// Evaluates a condition (`response.end_of_stream`, `record.status != 'deleted'`).
    /// With Airbyte's templates, as `InterpolatedBoolean`: the rendered text read back as a
    /// literal is false when it is `False`, `None`, `0`, empty, `[]`, `{}` or `false`; a bare
    /// expression (no `{{`) is evaluated as if it were in `{{ }}`.
    pub fn condition(&self, expression: &str, context: &JinjaValue, what: &str) -> Result<bool, ConnectorError> {
        if self.dialect == TemplateDialect::Airbyte {
            let wrapped;
            let template = if expression.contains("{{") || expression.contains("{%") {
                expression
            } else {
                wrapped = format!("{{{{ {expression} }}}}");
                &wrapped
            };
            let text = self.render_airbyte(template, context, what)?;
            let value = template_airbyte::literal_eval(&text).unwrap_or(Value::String(text));
            return Ok(!template_airbyte::is_false(&value));
        }
        let expression = sole_expression(expression).unwrap_or(expression);
        self.env
            .compile_expression(expression)
            .and_then(|e| e.eval(context))
            .map(|v| v.is_true())
            .map_err(|e| template_error(what, expression, &e))
    }
}

/// Renders a JSON value into the text a query parameter or header carries.
pub fn as_text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The context value for a serde_json document.
pub fn context(value: &Value) -> JinjaValue {
    JinjaValue::from_serialize(value)
}

/// The environment of every `templates: airbyte` manifest: txlake's functions and filters
/// plus Airbyte's (none keeps state), static so that compiled expressions can be cached.
pub(crate) fn airbyte_environment() -> &'static Environment<'static> {
    static ENV: std::sync::OnceLock<Environment<'static>> = std::sync::OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Templates::new().env;
        template_airbyte::install(&mut env);
        env
    })
}

/// `{{ x.y | f }}` → `x.y | f` when the text is exactly one expression, with nothing around.
fn exact_sole_expression(text: &str) -> Option<&str> {
    let inner = text.strip_prefix("{{")?.strip_suffix("}}")?;
    let inner = inner.strip_prefix('-').unwrap_or(inner).strip_suffix('-').unwrap_or(inner);
    (!inner.contains("{{") && !inner.contains("}}") && !inner.contains("{%") && !inner.contains("{#"))
        .then_some(inner.trim())
}

/// `{{ x.y | f }}` → `x.y | f` when the text is one expression and nothing else.
fn sole_expression(text: &str) -> Option<&str> {
    let inner = text.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    (!inner.contains("{{") && !inner.contains("}}")).then_some(inner.trim())
}

/// A number as itself, a text holding a number as that number (an integer when it is one),
/// anything else as `none`: survey scales whose choices are labelled `0` … `10`.
fn to_number(value: &JinjaValue) -> JinjaValue {
    let text = match value.as_str() {
        Some(text) => text.trim().to_string(),
        None if value.is_number() => return value.clone(),
        None => return JinjaValue::from(()),
    };
    if let Ok(n) = text.parse::<i64>() {
        JinjaValue::from(n)
    } else if let Ok(x) = text.parse::<f64>().map_err(|_| ()).and_then(|x| if x.is_finite() { Ok(x) } else { Err(()) })
    {
        JinjaValue::from(x)
    } else {
        JinjaValue::from(())
    }
}

fn whole_seconds(micros: i64) -> i64 {
    micros - micros.rem_euclid(1_000_000)
}

fn micros_of(value: &JinjaValue) -> Option<i64> {
    let json = serde_json::to_value(value).ok()?;
    cursor::parse(&json, &CursorFormat::Rfc3339)
}

fn template_error(what: &str, template: &str, error: &minijinja::Error) -> ConnectorError {
    let mut detail = error.kind().to_string();
    if let Some(d) = error.detail() {
        detail = format!("{detail}: {d}");
    }
    ConnectorError::Source(format!("cannot interpolate `{template}` at `{what}`: {detail}"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn renders_text_values_and_conditions() {
        let t = Templates::new();
        let ctx = context(&json!({
            "config": {"token": "abc", "page_size": 50},
            "response": {"paging": {"next": {"after": "xyz"}}, "end_of_stream": false},
            "state": {"cursor": "2024-05-01T00:00:00Z"}
        }));
        assert_eq!(t.render("Bearer {{ config.token }}", &ctx, "k").unwrap(), "Bearer abc");
        assert_eq!(t.render("{{ response.paging.next.after }}", &ctx, "k").unwrap(), "xyz");
        assert_eq!(t.render("{{ response.nothing.here.at_all }}", &ctx, "k").unwrap(), "");
        assert_eq!(t.render_value(&json!("{{ config.page_size }}"), &ctx, "k").unwrap(), json!(50));
        assert_eq!(t.render_value(&json!({"n": "{{ config.nope }}"}), &ctx, "k").unwrap(), json!({"n": null}));
        assert_eq!(t.render("{{ state.cursor | unix_seconds }}", &ctx, "k").unwrap(), "1714521600");
        assert_eq!(t.render("{{ state.cursor | format_datetime('%d.%m.%Y') }}", &ctx, "k").unwrap(), "01.05.2024");
        assert!(!t.condition("response.end_of_stream", &ctx, "k").unwrap());
        assert!(t.condition("{{ response.exception is not defined }}", &ctx, "k").unwrap());
        assert_eq!(t.render("{{ now_utc() }}", &ctx, "k").unwrap().len(), 20);
        let scale =
            context(&json!({ "choices": [{"text": "0"}, {"text": " 10 "}, {"text": "Not sure"}, {"text": 7}] }));
        let lowest = "{{ choices | map(attribute='text') | map('to_number') | select('number') | min }}";
        assert_eq!(t.render(lowest, &scale, "k").unwrap(), "0");
        let highest = "{{ choices | map(attribute='text') | map('to_number') | select('number') | max }}";
        assert_eq!(t.render(highest, &scale, "k").unwrap(), "10");
        assert_eq!(t.render("{{ '2.5' | to_number }}", &scale, "k").unwrap(), "2.5");
    }

    #[test]
    fn a_broken_template_names_the_key() {
        let t = Templates::new();
        let err = t
            .render("{{ config.token | nosuchfilter }}", &context(&json!({})), "streams.items.request.params.q")
            .unwrap_err();
        assert!(err.to_string().contains("streams.items.request.params.q"), "{err}");
    }
}
