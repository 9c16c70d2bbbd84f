//! Survey answers from a survey tool and from a file, joined to people of other connections:
//! a lake fed by HubSpot (`crm`), BambooHR (`hr`), Typeform (`forms`) and a CSV of eNPS answers
//! (`pulse`, the `files` connector) through `txlake sync`, with a `survey_mapping` per survey
//! connection, gives the NPS by segment and the eNPS by department worked out by hand below.
//!
//! Customers (the HubSpot fixture): Maria Garcia (Northwind, 250 employees → `mid_market`),
//! Li Wei (Contoso, 2,500 → `enterprise`), Olu Adeyemi (Fabrikam, 45 → `smb`).
//!
//! NPS answers (question `nps_score`, 0–10) of the Typeform form lT4Z3j, respondent e-mail in the
//! hidden field `customer_email`:
//!
//! | answer | respondent                              | segment    | class     |
//! |--------|-----------------------------------------|------------|-----------|
//! | 9      | maria.lopez@example.com (the fixture's)  | nobody     | promoter  |
//! | 3      | (none; the fixture's)                   | nobody     | detractor |
//! | 10     | (none; the fixture's)                   | nobody     | promoter  |
//! | 10     | " MARIA.garcia@example.com" (added)     | mid_market | promoter  |
//! | 9      | maria.garcia@example.com (added)        | mid_market | promoter  |
//! | 3      | li.wei@contoso.cn (added)               | enterprise | detractor |
//! | 8      | olu.adeyemi@fabrikam.ng (added)         | smb        | passive   |
//! | 6      | olu.adeyemi@fabrikam.ng (added)         | smb        | detractor |
//! | 10     | someone@elsewhere.example (added)       | nobody     | promoter  |
//!
//! NPS = 100 × (promoters − detractors) / answers: mid_market 100 × (2 − 0) / 2 = 100,
//! enterprise 100 × (0 − 1) / 1 = −100, smb 100 × (0 − 1) / 2 = −50, no segment
//! 100 × (3 − 1) / 4 = 50; overall 100 × (5 − 3) / 9 = 22.22. Of the 9 answers, 5 match a
//! customer (Maria ×2, Li, Olu ×2) and 4 match nobody.
//!
//! eNPS answers (the CSV, 0–10), matched by work e-mail to BambooHR's employees (the fixture's
//! Charlotte Abbott, Ashley Adams, Ryota Saito in Customer Support and Dana Vance in Sales,
//! plus three support agents hired for the test):
//!
//! | e-mail                      | department       | answer | class     |
//! |-----------------------------|------------------|--------|-----------|
//! | cabbott@northwind.example   | Customer Support | 9      | promoter  |
//! | aadams@northwind.example    | Customer Support | 10     | promoter  |
//! | rsaito@northwind.example    | Customer Support | 6      | detractor |
//! | kchen@northwind.example     | Customer Support | 7      | passive   |
//! | mlee@northwind.example      | Customer Support | 3      | detractor |
//! | pnovak@northwind.example    | Customer Support | 10     | promoter  |
//! | dvance@northwind.example    | Sales            | 2      | detractor |
//! | temp@agency.example         | nobody           | 10     | promoter  |
//!
//! eNPS Customer Support = 100 × (3 − 2) / 6 = 16.67; Sales has one respondent, under the
//! anonymity threshold of 5, so it is suppressed (no row).

use std::path::Path;

use serde_json::{Value, json};

use crate::bamboohr;
use crate::hubspot::{FakeHubspot, inline, query, run, sync};
use crate::typeform;

const ENPS_CSV: &str = "email,score,submitted_at
cabbott@northwind.example,9,2024-06-03T09:00:00Z
aadams@northwind.example,10,2024-06-03T09:05:00Z
rsaito@northwind.example,6,2024-06-03T10:00:00Z
kchen@northwind.example,7,2024-06-04T08:30:00Z
mlee@northwind.example,3,2024-06-04T11:00:00Z
pnovak@northwind.example,10,2024-06-05T15:45:00Z
dvance@northwind.example,2,2024-02-20T12:00:00Z
temp@agency.example,10,2024-06-06T09:00:00Z
";

/// The lake's config: four connections, two with a survey mapping.
fn config(crm: &Value, hr: &Value, forms: &Value, pulse_dir: &Path) -> String {
    format!(
        r#"[lake]
url = "file://./lake"

[connections.crm]
connector = "hubspot"
config = {crm}

[connections.hr]
connector = "bamboohr"
config = {hr}

[connections.forms]
connector = "typeform"
config = {forms}

[connections.forms.survey_mapping]
respondent = {{ field = "hidden.customer_email", kind = "customer" }}
touchpoint = {{ value = "support_ticket" }}
channel = {{ field = "meta.platform" }}
questions = {{ nps_score = {{ survey = "nps" }} }}

[connections.pulse]
connector = "files"
config = {{ url = "{pulse}", streams = [{{ name = "enps", glob = "enps_*.csv" }}] }}

[connections.pulse.survey_mapping]
stream = "enps"
answered_at = "submitted_at"
respondent = {{ field = "email", kind = "employee" }}
touchpoint = {{ value = "employee_pulse" }}
questions = {{ score = {{ survey = "enps" }} }}
"#,
        crm = inline(crm),
        hr = inline(hr),
        forms = inline(forms),
        pulse = pulse_dir.display(),
    )
}

/// `txlake metrics show NAME ARGS --format json` → its rows.
async fn metric(config: &Path, name: &str, args: &[&str]) -> Vec<Value> {
    let mut command = vec!["metrics".to_string(), "show".into(), name.into(), "--config".into()];
    command.push(config.display().to_string());
    command.extend(args.iter().map(|a| a.to_string()));
    command.extend(["--format".to_string(), "json".to_string()]);
    let output = run(command).await;
    assert!(output.status.success(), "{name}: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

fn number(row: &Value, column: &str) -> f64 {
    row[column].as_f64().unwrap_or_else(|| panic!("no number `{column}` in {row}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nps_by_segment_and_enps_by_department_across_four_sources() {
    let crm = FakeHubspot::start().await;
    let (hr_router, hr) = bamboohr::fake_api();
    for (id, name, email) in [
        ("41", "Kai Chen", "kchen@northwind.example"),
        ("42", "Min Lee", "mlee@northwind.example"),
        ("43", "Petra Novak", "pnovak@northwind.example"),
    ] {
        hr.hire(id, name, email, "Customer Support");
    }
    let hr_url = bamboohr::serve(hr_router).await;
    let (forms_router, forms) = typeform::fake_api();
    for (token, email, nps) in [
        ("a1000000000000000000000000000001", " MARIA.garcia@example.com", 10),
        ("a1000000000000000000000000000002", "maria.garcia@example.com", 9),
        ("a1000000000000000000000000000003", "li.wei@contoso.cn", 3),
        ("a1000000000000000000000000000004", "olu.adeyemi@fabrikam.ng", 8),
        ("a1000000000000000000000000000005", "olu.adeyemi@fabrikam.ng", 6),
        ("a1000000000000000000000000000006", "someone@elsewhere.example", 10),
    ] {
        forms.submit_from("lT4Z3j", token, "2024-05-20T10:00:00Z", nps, json!({ "customer_email": email }));
    }
    let forms_url = bamboohr::serve(forms_router).await;

    let dir = tempfile::tempdir().unwrap();
    let pulse = dir.path().join("pulse");
    std::fs::create_dir_all(&pulse).unwrap();
    std::fs::write(pulse.join("enps_2024-06.csv"), ENPS_CSV).unwrap();
    let config_path = dir.path().join("txlake.toml");
    let hr_config = json!({ "subdomain": bamboohr::SUBDOMAIN, "api_key": bamboohr::API_KEY, "base_url": hr_url });
    let forms_config = json!({ "access_token": typeform::TOKEN, "base_url": forms_url });
    std::fs::write(&config_path, config(&crm.config(), &hr_config, &forms_config, &pulse)).unwrap();

    let check = run(vec!["config".into(), "check".into(), "--config".into(), config_path.display().to_string()]).await;
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
    sync(&config_path, &[]).await;

    let by_segment = metric(&config_path, "nps", &["--group-by", "segment"]).await;
    let nps = |segment: Value| {
        let row = by_segment
            .iter()
            .find(|r| r["segment"] == segment)
            .unwrap_or_else(|| panic!("{segment} in {by_segment:?}"));
        (number(row, "responses"), (number(row, "nps") * 100.0).round() / 100.0)
    };
    assert_eq!(nps(json!("mid_market")), (2.0, 100.0));
    assert_eq!(nps(json!("enterprise")), (1.0, -100.0));
    assert_eq!(nps(json!("smb")), (2.0, -50.0));
    assert_eq!(nps(Value::Null), (4.0, 50.0));
    let overall = metric(&config_path, "nps", &[]).await;
    assert_eq!((number(&overall[0], "nps") * 100.0).round() / 100.0, 22.22);

    let by_department = metric(&config_path, "enps", &["--group-by", "department"]).await;
    let support = by_department.iter().find(|r| r["department"] == "Customer Support").expect("Customer Support");
    assert_eq!(number(support, "responses"), 6.0);
    assert_eq!((number(support, "enps") * 100.0).round() / 100.0, 16.67);
    assert!(
        !by_department.iter().any(|r| r["department"] == "Sales"),
        "one respondent is under the anonymity threshold: {by_department:?}"
    );

    // Every answer is accounted for: matched, unmatched, none lost.
    let coverage = metric(&config_path, "survey_coverage", &["--group-by", "source,survey"]).await;
    let count = |source: &str, column: &str| {
        let row = coverage.iter().find(|r| r["source"] == source).unwrap_or_else(|| panic!("{source} in {coverage:?}"));
        number(row, column)
    };
    assert_eq!((count("forms", "answers"), count("forms", "matched"), count("forms", "unmatched")), (9.0, 5.0, 4.0));
    assert_eq!((count("pulse", "answers"), count("pulse", "matched"), count("pulse", "unmatched")), (8.0, 7.0, 1.0));

    // The answers carry the mapping's touchpoint and the tool's channel.
    let rows = query(
        &config_path,
        "SELECT touchpoint, channel, count(*) AS n FROM tx.surveys WHERE response_key LIKE 'forms:%' GROUP BY touchpoint, channel",
    )
    .await;
    assert!(rows.iter().all(|r| r["touchpoint"] == "support_ticket"), "{rows:?}");
}

/// The sync stops, before writing anything, when the mapping reads a question on another
/// scale than the survey tool says it has.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mapping_on_the_wrong_scale_stops_the_sync_naming_the_question() {
    let (forms_router, _forms) = typeform::fake_api();
    let forms_url = bamboohr::serve(forms_router).await;
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("txlake.toml");
    let forms_config = json!({ "access_token": typeform::TOKEN, "base_url": forms_url });
    std::fs::write(
        &config_path,
        format!(
            "[lake]\nurl = \"file://./lake\"\n[connections.forms]\nconnector = \"typeform\"\nconfig = {}\n[connections.forms.survey_mapping]\nrespondent = {{ field = \"hidden.customer_email\", kind = \"customer\" }}\nquestions = {{ ease = {{ survey = \"csat\" }} }}\n",
            inline(&forms_config)
        ),
    )
    .unwrap();
    let output = run(vec!["sync".into(), "--config".into(), config_path.display().to_string()]).await;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("connections.forms.survey_mapping.questions.ease") && stderr.contains("rescale = true"),
        "{stderr}"
    );
    assert!(!dir.path().join("lake/raw/forms").exists(), "nothing was written");
}
