//! Survey definitions (`GET /survey-definitions/{surveyId}`): each question's id, text
//! (HTML stripped), type, selector, choices and answer scale, and the fields its answers take
//! in a response export (`QID1`; `QID3_1`, `QID3_2` for the rows of a matrix or the
//! statements of a slider) for discover's [`SurveyQuestion`]s.

use serde_json::{Map, Value};
use txlake_connector::SurveyQuestion;

/// One question of a survey definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    /// QID….
    pub id: String,
    /// The label the survey's author gave it (Q1, nps, …).
    pub export_tag: Option<String>,
    /// The question's text without HTML.
    pub text: Option<String>,
    /// MC, Matrix, Slider, TE, DB, …
    pub question_type: Option<String>,
    /// SAVR, NPS, Likert, HSLIDER, SL, …
    pub selector: Option<String>,
    /// SingleAnswer, TX, …
    pub sub_selector: Option<String>,
    /// Choice id → `{ "Display", "Recode" }` (the rows of a matrix).
    pub choices: Option<Value>,
    /// For matrices: answer (column) id → `{ "Display", "Recode" }`.
    pub answers: Option<Value>,
    /// The lowest and highest numeric answer, for scale questions.
    pub scale: Option<(i64, i64)>,
    /// The export fields of its answers with each one's text (a matrix row's statement).
    pub fields: Vec<(String, Option<String>)>,
}

impl Question {
    /// `QuestionType/Selector`, the kind discover reports.
    pub fn kind(&self) -> String {
        match (&self.question_type, &self.selector) {
            (Some(t), Some(s)) => format!("{t}/{s}"),
            (Some(t), None) => t.clone(),
            (None, Some(s)) => s.clone(),
            (None, None) => String::new(),
        }
    }
}

/// The survey's name and its questions, in QID order (QID2 before QID10). Descriptive text
/// blocks (`DB`) and hidden timing questions are questions too; they simply never answer.
pub fn parse(result: &Value) -> (Option<String>, Vec<Question>) {
    let name = result.get("SurveyName").and_then(Value::as_str).map(str::to_string);
    let mut questions: Vec<Question> = result
        .get("Questions")
        .and_then(Value::as_object)
        .map(|qs| qs.iter().map(|(id, q)| question(id, q)).collect())
        .unwrap_or_default();
    questions.sort_by_key(|q| (q.id.trim_start_matches("QID").parse::<u64>().unwrap_or(u64::MAX), q.id.clone()));
    (name, questions)
}

fn text_of(q: &Value, key: &str) -> Option<String> {
    q.get(key).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string)
}

fn question(id: &str, q: &Value) -> Question {
    let question_type = text_of(q, "QuestionType");
    let selector = text_of(q, "Selector");
    let id = text_of(q, "QuestionID").unwrap_or_else(|| id.to_string());
    let recodes = q.get("RecodeValues").and_then(Value::as_object);
    let is_matrix = question_type.as_deref() == Some("Matrix");
    // A matrix recodes its answers (columns); other questions their choices.
    let choices = options(q.get("Choices"), if is_matrix { None } else { recodes });
    let answers = options(q.get("Answers"), if is_matrix { recodes } else { None });
    let text = q.get("QuestionText").and_then(Value::as_str).map(strip_html).filter(|t| !t.is_empty());
    let scale = scale(question_type.as_deref(), selector.as_deref(), q, choices.as_ref(), answers.as_ref());
    let rows = |options: &Option<Value>| -> Vec<(String, Option<String>)> {
        options
            .as_ref()
            .and_then(Value::as_object)
            .map(|o| {
                let mut rows: Vec<(&String, &Value)> = o.iter().collect();
                rows.sort_by_key(|(row, _)| (row.parse::<u64>().unwrap_or(u64::MAX), row.to_string()));
                rows.into_iter()
                    .map(|(row, v)| {
                        let label = v.get("Display").and_then(Value::as_str);
                        let text = match (&text, label) {
                            (Some(t), Some(l)) => Some(format!("{t} — {l}")),
                            (t, l) => t.clone().or(l.map(str::to_string)),
                        };
                        (format!("{id}_{row}"), text)
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let fields = match question_type.as_deref() {
        Some("Matrix") | Some("Slider") => rows(&choices),
        _ => vec![(id.clone(), text.clone())],
    };
    Question {
        export_tag: text_of(q, "DataExportTag"),
        sub_selector: text_of(q, "SubSelector"),
        id,
        text,
        question_type,
        selector,
        choices,
        answers,
        scale,
        fields,
    }
}

/// `{ id: { "Display": text without HTML, "Recode": value } }`, ordered by numeric id.
fn options(options: Option<&Value>, recodes: Option<&Map<String, Value>>) -> Option<Value> {
    let options = options?.as_object()?;
    let mut out = Map::new();
    for (id, option) in options {
        let mut entry = Map::new();
        if let Some(display) = option.get("Display").and_then(Value::as_str) {
            entry.insert("Display".into(), Value::String(strip_html(display)));
        }
        if let Some(recode) = recodes.and_then(|r| r.get(id)) {
            entry.insert("Recode".into(), recode.clone());
        }
        out.insert(id.clone(), Value::Object(entry));
    }
    Some(Value::Object(out))
}

/// The numeric value an option answers with: its recode, else its id.
fn option_value(id: &str, option: &Value) -> Option<i64> {
    match option.get("Recode") {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => id.parse().ok(),
    }
}

fn span(options: Option<&Value>) -> Option<(i64, i64)> {
    let values: Vec<i64> =
        options?.as_object()?.iter().map(|(id, o)| option_value(id, o)).collect::<Option<Vec<i64>>>()?;
    Some((*values.iter().min()?, *values.iter().max()?))
}

fn scale(
    question_type: Option<&str>,
    selector: Option<&str>,
    q: &Value,
    choices: Option<&Value>,
    answers: Option<&Value>,
) -> Option<(i64, i64)> {
    let number = |key: &str| -> Option<i64> {
        match q.get("Configuration")?.get(key)? {
            Value::Number(n) => n.as_f64().map(|f| f.round() as i64),
            Value::String(s) => s.trim().parse::<f64>().ok().map(|f| f.round() as i64),
            _ => None,
        }
    };
    match (question_type?, selector) {
        // Net Promoter: eleven choices 0–10 (recoded so unless an author changed them).
        ("MC", Some("NPS")) => span(choices).or(Some((0, 10))),
        ("MC", Some(s)) if s.starts_with("SA") || matches!(s, "DL" | "SB" | "NPS") => span(choices),
        ("Matrix", Some("Likert" | "Bipolar" | "RO")) => span(answers),
        ("Slider", _) => Some((number("CSSliderMin")?, number("CSSliderMax")?)),
        _ => None,
    }
}

/// The discover entries of one survey's questions: one per answer field.
pub fn survey_questions(survey_id: &str, title: &str, questions: &[Question]) -> Vec<SurveyQuestion> {
    questions
        .iter()
        .filter(|q| q.question_type.as_deref() != Some("DB"))
        .flat_map(|q| {
            q.fields.iter().map(move |(field, text)| SurveyQuestion {
                survey_id: survey_id.to_string(),
                survey_title: title.to_string(),
                field: field.clone(),
                question: text.clone().unwrap_or_default(),
                kind: q.kind(),
                scale: q.scale,
                scale_observed: false,
            })
        })
        .collect()
}

/// Text without HTML tags, with the common entities decoded and white space collapsed.
pub fn strip_html(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => {
                in_tag = true;
                text.push(' ');
            }
            '>' if in_tag => in_tag = false,
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    let decoded = text
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&rsquo;", "’")
        .replace("&amp;", "&");
    decoded.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn html_is_stripped() {
        assert_eq!(
            strip_html("<div>How likely are you to <b>recommend</b>&nbsp;us?</div><br>"),
            "How likely are you to recommend us?"
        );
        assert_eq!(strip_html("Fish &amp; chips &lt;3"), "Fish & chips <3");
    }

    #[test]
    fn scales_come_from_choices_recodes_answers_and_slider_bounds() {
        let definition = json!({
            "SurveyName": "Pulse",
            "Questions": {
                "QID10": { "QuestionID": "QID10", "QuestionType": "Slider", "Selector": "HSLIDER", "QuestionText": "Rate",
                           "Choices": { "1": { "Display": "Tools" } }, "Configuration": { "CSSliderMin": 0, "CSSliderMax": 100 } },
                "QID2": { "QuestionID": "QID2", "QuestionType": "MC", "Selector": "NPS", "QuestionText": "<p>Recommend?</p>",
                          "Choices": { "0": { "Display": "0" }, "10": { "Display": "10" } } },
                "QID3": { "QuestionID": "QID3", "QuestionType": "Matrix", "Selector": "Likert", "SubSelector": "SingleAnswer",
                          "QuestionText": "Agree?", "Choices": { "1": { "Display": "I grow" }, "2": { "Display": "I am heard" } },
                          "Answers": { "1": { "Display": "No" }, "2": { "Display": "Meh" }, "3": { "Display": "Yes" } },
                          "RecodeValues": { "1": "1", "2": "3", "3": "5" } },
                "QID4": { "QuestionID": "QID4", "QuestionType": "TE", "Selector": "SL", "QuestionText": "Why?" },
                "QID5": { "QuestionID": "QID5", "QuestionType": "DB", "Selector": "TB", "QuestionText": "Thanks" }
            }
        });
        let (name, questions) = parse(&definition);
        assert_eq!(name.as_deref(), Some("Pulse"));
        let ids: Vec<&str> = questions.iter().map(|q| q.id.as_str()).collect();
        assert_eq!(ids, ["QID2", "QID3", "QID4", "QID5", "QID10"]);
        let scales: Vec<Option<(i64, i64)>> = questions.iter().map(|q| q.scale).collect();
        assert_eq!(scales, [Some((0, 10)), Some((1, 5)), None, None, Some((0, 100))]);
        let discovered = survey_questions("SV_1", "Pulse", &questions);
        let fields: Vec<(&str, &str, &str)> =
            discovered.iter().map(|q| (q.field.as_str(), q.kind.as_str(), q.question.as_str())).collect();
        assert_eq!(
            fields,
            [
                ("QID2", "MC/NPS", "Recommend?"),
                ("QID3_1", "Matrix/Likert", "Agree? — I grow"),
                ("QID3_2", "Matrix/Likert", "Agree? — I am heard"),
                ("QID4", "TE/SL", "Why?"),
                ("QID10_1", "Slider/HSLIDER", "Rate — Tools"),
            ]
        );
    }
}
