//! A connection's survey mapping (`[connections.<name>.survey_mapping]` in txlake.toml, or a
//! TOML file beside it): which questions of a survey tool are NPS, eNPS, CSAT, CES or CSI and on
//! which scale, and which fields of a response name the respondent, the touchpoint, the channel
//! and the ticket.
//!
//! Survey tools know respondents by e-mail and questions by their own ids; the canonical
//! `tx.surveys` knows customers and employees by key and satisfaction answers by kind. The
//! connectors put every answer into `tx.survey_answers` as it is (one row per field of a
//! response); this mapping is what turns the mapped ones into `tx.surveys` rows
//! (`sql/mappings/surveys.sql`). It is checked when the config is read (kinds, scales,
//! references) and again at each sync against the questions the source describes
//! ([`SurveyMapping::check_questions`]), so a 1–10 "NPS" question is not read as 0–10.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use txlake_connector::SurveyQuestion;

/// What a connection's survey answers mean.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SurveyMapping {
    /// Who answered: the field that holds the respondent's e-mail (or id), and whether the
    /// respondent is a customer or an employee.
    pub respondent: RespondentMapping,
    /// Where the touchpoint an answer is about comes from; a question's own `touchpoint`
    /// wins. None: NULL.
    #[serde(default)]
    pub touchpoint: Option<FieldOrValue>,
    /// Where the channel the survey was answered through comes from. None: NULL.
    #[serde(default)]
    pub channel: Option<FieldOrValue>,
    /// The field holding the id of the ticket an answer is about, and the connection whose
    /// tickets those ids are. None: answers are about no ticket.
    #[serde(default)]
    pub ticket: Option<TicketMapping>,
    /// For sources whose responses are rows with a column per question (a file, a sheet):
    /// the stream whose rows are the responses. Fields are then its column names. Survey
    /// tools' connectors leave it out: their answers come through `tx.survey_answers`.
    #[serde(default)]
    pub stream: Option<String>,
    /// With `stream`: the column identifying a response (default: the file and row,
    /// `_file` and `_row`, which every `files` stream has).
    #[serde(default)]
    pub response_id: Option<String>,
    /// With `stream`: the column holding when the response was given (required with `stream`).
    #[serde(default)]
    pub answered_at: Option<String>,
    /// The mapped questions, by their field (question id, column): what each measures. A key
    /// `<survey id>/<field>` maps the field of that survey only, for tools whose question ids
    /// repeat across surveys (every Qualtrics survey has a `QID1`).
    pub questions: BTreeMap<String, QuestionMapping>,
}

/// A `questions` key split into the survey it is limited to (if any) and the field.
pub fn question_key(key: &str) -> (Option<&str>, &str) {
    match key.split_once('/') {
        Some((survey, field)) if !survey.is_empty() && !field.is_empty() => (Some(survey), field),
        _ => (None, key),
    }
}

/// Who answered.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RespondentMapping {
    /// The field holding the respondent's e-mail (`hidden.email`, `meta.email`, a column),
    /// or their id in another connection (with `connection`).
    pub field: String,
    /// `customer` or `employee`.
    pub kind: RespondentKind,
    /// With an id in `field`: the connection whose customers (or employees) the ids are, so
    /// the key becomes `<connection>:<id>`. Without it `field` is an e-mail, matched to the
    /// customer (employee) of any connection with that e-mail through `person_key`.
    #[serde(default)]
    pub connection: Option<String>,
}

/// Whether respondents are customers or employees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RespondentKind {
    /// Matched to `tx.customers`.
    Customer,
    /// Matched to `tx.employees`.
    Employee,
}

impl RespondentKind {
    /// The name `tx.surveys.respondent_kind` uses.
    pub fn as_str(self) -> &'static str {
        match self {
            RespondentKind::Customer => "customer",
            RespondentKind::Employee => "employee",
        }
    }
}

/// A value read from a field of the response, or the same value for every answer.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FieldOrValue {
    /// The field of the response holding it.
    #[serde(default)]
    pub field: Option<String>,
    /// A fixed value, used when `field` is absent or empty in a response.
    #[serde(default)]
    pub value: Option<String>,
}

/// Where the ticket an answer is about comes from.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TicketMapping {
    /// The field holding the ticket's id in its help desk.
    pub field: String,
    /// The connection of that help desk: the ticket key is `<connection>:<id>`.
    pub connection: String,
}

/// What one question measures.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct QuestionMapping {
    /// `nps`, `enps`, `csat`, `ces` or `csi`.
    pub survey: SurveyKind,
    /// The question's own scale, `[lowest, highest]`. Default: the survey kind's convention
    /// (NPS and eNPS 0–10, CSAT 1–5, CES 1–7; CSI takes any scale and needs it).
    #[serde(default)]
    pub scale: Option<[i64; 2]>,
    /// Map the question's scale linearly onto the survey kind's convention (1–10 onto 0–10,
    /// 1–7 onto 1–5), rounding to a whole step. Needed whenever the two differ.
    #[serde(default)]
    pub rescale: bool,
    /// The touchpoint this question is about, for every answer (wins over the mapping's).
    #[serde(default)]
    pub touchpoint: Option<String>,
}

/// The satisfaction measures of the canonical model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SurveyKind {
    /// Net Promoter Score, customers, 0–10.
    Nps,
    /// Employee Net Promoter Score, employees, 0–10.
    Enps,
    /// Customer satisfaction, 1–5 (5 = very satisfied).
    Csat,
    /// Customer effort, 1–7 (1 = very easy).
    Ces,
    /// Customer satisfaction index question, on its own scale (normalised by the metric).
    Csi,
}

impl SurveyKind {
    /// The name `tx.surveys.survey` uses.
    pub fn as_str(self) -> &'static str {
        match self {
            SurveyKind::Nps => "nps",
            SurveyKind::Enps => "enps",
            SurveyKind::Csat => "csat",
            SurveyKind::Ces => "ces",
            SurveyKind::Csi => "csi",
        }
    }

    /// The scale the metrics expect, or None when any scale is fine (CSI).
    pub fn convention(self) -> Option<[i64; 2]> {
        match self {
            SurveyKind::Nps | SurveyKind::Enps => Some([0, 10]),
            SurveyKind::Csat => Some([1, 5]),
            SurveyKind::Ces => Some([1, 7]),
            SurveyKind::Csi => None,
        }
    }
}

/// One mapped question resolved to what `tx.surveys` needs: the question's scale, the scale
/// its scores end up on, and whether they are rescaled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResolvedScale {
    /// The question's own scale.
    pub from: [i64; 2],
    /// The scale of the scores in `tx.surveys`.
    pub to: [i64; 2],
}

impl QuestionMapping {
    /// The question's scale and the scale its scores are written on.
    pub fn resolved_scale(&self) -> ResolvedScale {
        // `check` has made sure a CSI question declares its scale and that a scale differing
        // from the convention is rescaled.
        let convention = self.survey.convention();
        let from = self.scale.or(convention).unwrap_or([0, 0]);
        let to = if self.rescale { convention.unwrap_or(from) } else { from };
        ResolvedScale { from, to }
    }
}

impl SurveyMapping {
    /// Checks the mapping on its own; every problem names its key under `at`
    /// (`connections.forms.survey_mapping`) and says what to write instead.
    pub fn check(&self, at: &str) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        if self.questions.is_empty() {
            problems.push(format!(
                "`{at}.questions` maps no question; add one per NPS/eNPS/CSAT/CES/CSI question, e.g. `nps_score = {{ survey = \"nps\" }}` (`txlake connectors discover <connection>` lists them)"
            ));
        }
        if self.respondent.field.trim().is_empty() {
            problems.push(format!("`{at}.respondent.field` is empty; name the field holding the respondent's e-mail"));
        }
        for (what, field) in [("touchpoint", self.touchpoint.as_ref()), ("channel", self.channel.as_ref())] {
            if let Some(field) = field
                && field.field.is_none()
                && field.value.is_none()
            {
                problems.push(format!("`{at}.{what}` needs `field = \"…\"` (read from each response) or `value = \"…\"` (the same for all)"));
            }
        }
        match (&self.stream, &self.answered_at) {
            (Some(_), None) => problems.push(format!(
                "`{at}.stream` is set, so `{at}.answered_at` must name the column holding when each response was given"
            )),
            (None, Some(_)) | (None, None) if self.response_id.is_some() => problems.push(format!(
                "`{at}.response_id` only applies with `{at}.stream` (responses as rows with a column per question)"
            )),
            _ => {}
        }
        for (field, question) in &self.questions {
            let key = format!("{at}.questions.{}", quoted_key(field));
            if let (Some(survey), bare) = question_key(field)
                && self.questions.contains_key(bare)
            {
                problems.push(format!(
                    "`{key}` maps `{bare}` of survey {survey}, which `{at}.questions.{}` already maps for every survey; keep one",
                    quoted_key(bare)
                ));
            }
            let convention = question.survey.convention();
            match (question.scale, convention) {
                (Some([low, high]), _) if low >= high => problems.push(format!(
                    "`{key}.scale` is [{low}, {high}]; write the lowest and the highest answer, lowest first"
                )),
                (None, None) => problems
                    .push(format!("`{key}` is a CSI question, which takes any scale: say which with `scale = [1, 5]`")),
                (Some(scale), Some(expected)) if scale != expected && !question.rescale => {
                    problems.push(scale_mismatch(&key, question.survey, scale, expected, "the mapping says"))
                }
                _ => {}
            }
            if question.rescale && convention.is_none() {
                problems.push(format!(
                    "`{key}.rescale`: a CSI question keeps its own scale (the metric normalises it); remove `rescale`"
                ));
            }
        }
        if problems.is_empty() { Ok(()) } else { Err(problems) }
    }

    /// Checks the mapping against the questions the source describes (`Catalog.questions`):
    /// a question mapped onto a survey kind whose scale differs from the question's own is
    /// an error unless the mapping rescales it from that very scale. Questions the source
    /// does not describe (or describes without a scale) are taken as the mapping says.
    pub fn check_questions(&self, at: &str, questions: &[SurveyQuestion]) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        for (key_text, mapped) in &self.questions {
            let (survey, field) = question_key(key_text);
            let described = questions.iter().filter(|q| q.field == field && survey.is_none_or(|s| s == q.survey_id));
            for described in described {
                if let Some(problem) = Self::disagreement(at, key_text, mapped, described) {
                    problems.push(problem);
                }
            }
        }
        if problems.is_empty() { Ok(()) } else { Err(problems) }
    }

    /// How the mapping of the question `key_text` disagrees with the question as the source
    /// describes it, if it does.
    fn disagreement(at: &str, key_text: &str, mapped: &QuestionMapping, described: &SurveyQuestion) -> Option<String> {
        let (low, high) = described.scale?;
        let source = [low, high];
        let declared = mapped.resolved_scale().from;
        let key = format!("{at}.questions.{}", quoted_key(key_text));
        let named = format!("\"{}\" ({}, survey {})", described.question, described.kind, described.survey_title);
        if described.scale_observed {
            // Only the answers seen so far: they must fit the scale, whatever it is.
            return (declared[0] > low || high > declared[1]).then(|| {
                format!(
                    "`{key}` reads answers on {}–{}, but the source holds answers from {low} to {high} for {named}; write the question's real scale with `scale = [lowest, highest]` (and `rescale = true` if it is not the survey kind's)",
                    declared[0], declared[1]
                )
            });
        }
        if declared == source {
            return None;
        }
        Some(match (mapped.scale, mapped.survey.convention()) {
            (None, Some(expected)) => {
                let mut message = scale_mismatch(&key, mapped.survey, source, expected, "the source says");
                message.push_str(&format!("; the question is {named}"));
                message
            }
            _ => format!(
                "`{key}.scale` is [{}, {}] but the source says the question {named} is on {low}–{high}; write `scale = [{low}, {high}]`",
                declared[0], declared[1]
            ),
        })
    }

    /// Every field the mapping reads from a response: the questions, then the respondent,
    /// touchpoint, channel and ticket fields (each once).
    pub fn fields(&self) -> Vec<String> {
        let mut fields: Vec<String> = Vec::new();
        for key in self.questions.keys() {
            let field = question_key(key).1.to_string();
            if !fields.contains(&field) {
                fields.push(field);
            }
        }
        let context = [
            Some(&self.respondent.field),
            self.touchpoint.as_ref().and_then(|t| t.field.as_ref()),
            self.channel.as_ref().and_then(|c| c.field.as_ref()),
            self.ticket.as_ref().map(|t| &t.field),
        ];
        for field in context.into_iter().flatten() {
            if !fields.contains(field) {
                fields.push(field.clone());
            }
        }
        fields
    }
}

fn scale_mismatch(key: &str, survey: SurveyKind, scale: [i64; 2], expected: [i64; 2], who: &str) -> String {
    format!(
        "`{key}` is mapped to {} (answers {}–{}), but {who} the question's scale is {}–{}; add `rescale = true` and `scale = [{}, {}]` to map {}–{} linearly onto {}–{}, or map it to what it measures",
        survey.as_str(),
        expected[0],
        expected[1],
        scale[0],
        scale[1],
        scale[0],
        scale[1],
        scale[0],
        scale[1],
        expected[0],
        expected[1],
    )
}

/// A TOML key as the user would write it (quoted when it is not a bare key).
fn quoted_key(key: &str) -> String {
    if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        key.to_string()
    } else {
        format!("\"{key}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping(text: &str) -> SurveyMapping {
        toml::from_str(text).unwrap()
    }

    const AT: &str = "connections.forms.survey_mapping";

    #[test]
    fn a_plain_mapping_checks_and_resolves_conventional_scales() {
        let m = mapping(
            r#"
            respondent = { field = "hidden.email", kind = "customer" }
            touchpoint = { field = "hidden.touchpoint", value = "web_form" }
            channel = { value = "web" }
            [questions]
            nps_q = { survey = "nps" }
            csat_q = { survey = "csat", scale = [1, 7], rescale = true, touchpoint = "onboarding_session" }
            csi_q = { survey = "csi", scale = [1, 10] }
            "#,
        );
        m.check(AT).unwrap();
        assert_eq!(m.questions["nps_q"].resolved_scale(), ResolvedScale { from: [0, 10], to: [0, 10] });
        assert_eq!(m.questions["csat_q"].resolved_scale(), ResolvedScale { from: [1, 7], to: [1, 5] });
        assert_eq!(m.questions["csi_q"].resolved_scale(), ResolvedScale { from: [1, 10], to: [1, 10] });
        assert_eq!(m.fields(), ["csat_q", "csi_q", "nps_q", "hidden.email", "hidden.touchpoint"]);
    }

    #[test]
    fn a_scale_other_than_the_convention_needs_rescale() {
        let m = mapping(
            r#"
            respondent = { field = "email", kind = "employee" }
            stream = "pulse"
            answered_at = "submitted"
            [questions]
            "How likely?" = { survey = "enps", scale = [1, 10] }
            "#,
        );
        let problems = m.check(AT).unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        let p = &problems[0];
        assert!(p.contains("questions.\"How likely?\"") && p.contains("enps") && p.contains("1–10"), "{p}");
        assert!(p.contains("rescale = true") && p.contains("0–10"), "{p}");
    }

    #[test]
    fn broken_mappings_name_every_problem() {
        let m = mapping(
            r#"
            respondent = { field = " ", kind = "customer" }
            channel = {}
            stream = "answers"
            [questions]
            a = { survey = "csi" }
            b = { survey = "nps", scale = [10, 0] }
            c = { survey = "csi", scale = [1, 5], rescale = true }
            "#,
        );
        let problems = m.check(AT).unwrap_err().join("\n");
        for needle in
            ["respondent.field", "channel", "answered_at", "questions.a", "questions.b.scale", "questions.c.rescale"]
        {
            assert!(problems.contains(needle), "{needle} in {problems}");
        }
        let err = toml::from_str::<SurveyMapping>("respondent = { field = \"e\", kind = \"partner\" }\nquestions = {}")
            .unwrap_err()
            .to_string();
        assert!(err.contains("partner") && err.contains("customer"), "{err}");
    }

    fn question(field: &str, scale: Option<(i64, i64)>) -> SurveyQuestion {
        SurveyQuestion {
            survey_id: "f1".into(),
            survey_title: "Onboarding".into(),
            field: field.into(),
            question: "How likely are you to recommend us?".into(),
            kind: "opinion_scale".into(),
            scale,
            scale_observed: false,
        }
    }

    #[test]
    fn the_sources_own_scale_must_agree() {
        let m = mapping(
            r#"
            respondent = { field = "hidden.email", kind = "customer" }
            [questions]
            nps_q = { survey = "nps" }
            rescaled = { survey = "nps", scale = [1, 10], rescale = true }
            "#,
        );
        // As described: fine. Not described, or without a scale: taken as mapped.
        m.check_questions(AT, &[question("nps_q", Some((0, 10))), question("rescaled", Some((1, 10)))]).unwrap();
        m.check_questions(AT, &[question("nps_q", None)]).unwrap();
        // A 1–10 "NPS" question mapped as if it were 0–10.
        let problems = m.check_questions(AT, &[question("nps_q", Some((1, 10)))]).unwrap_err();
        let p = &problems[0];
        assert!(p.contains("questions.nps_q") && p.contains("1–10") && p.contains("rescale = true"), "{p}");
        assert!(p.contains("How likely are you to recommend us?"), "names the question: {p}");
        // Answers seen in a file only need to fit the scale.
        let seen = |field: &str, low: i64, high: i64| SurveyQuestion {
            scale_observed: true,
            ..question(field, Some((low, high)))
        };
        m.check_questions(AT, &[seen("nps_q", 2, 10), seen("rescaled", 1, 9)]).unwrap();
        let problems = m.check_questions(AT, &[seen("nps_q", 1, 11)]).unwrap_err();
        assert!(problems[0].contains("questions.nps_q") && problems[0].contains("from 1 to 11"), "{problems:?}");
        // A key limited to one survey checks that survey's question only.
        let scoped = mapping(
            r#"
            respondent = { field = "meta.email", kind = "customer" }
            [questions]
            "f1/nps_q" = { survey = "nps" }
            "f2/nps_q" = { survey = "nps", scale = [1, 10], rescale = true }
            "#,
        );
        scoped.check(AT).unwrap();
        assert_eq!(scoped.fields(), ["nps_q", "meta.email"]);
        let other_survey = SurveyQuestion { survey_id: "f2".into(), ..question("nps_q", Some((1, 10))) };
        scoped.check_questions(AT, &[question("nps_q", Some((0, 10))), other_survey]).unwrap();
        let clash = mapping(
            "respondent = { field = \"e\", kind = \"customer\" }\nquestions = { \"f1/q\" = { survey = \"nps\" }, q = { survey = \"nps\" } }",
        );
        assert!(clash.check(AT).unwrap_err()[0].contains("already maps"), "{:?}", clash.check(AT));
        // A declared scale the source contradicts.
        let problems = m.check_questions(AT, &[question("rescaled", Some((0, 5)))]).unwrap_err();
        assert!(problems[0].contains("scale = [0, 5]"), "{problems:?}");
    }
}
