//! The SQL that ships with txlake, embedded in the binary so it needs no files beside it.
//!
//! The list is explicit (a build script scanning folders was fooled by two checkouts sharing
//! one target directory); `every_sql_file_is_embedded` fails when a file is missing here.

/// `(path from the repository root, contents)`.
macro_rules! embed {
    ($path:literal) => {
        ($path, include_str!(concat!("../../../", $path)))
    };
}

/// Every SQL file shipped with txlake.
pub static EMBEDDED_SQL: &[(&str, &str)] = &[
    embed!("connectors/airbyte-copper/models/customers.sql"),
    embed!("connectors/airbyte-copper/models/revenue.sql"),
    embed!("connectors/airbyte-delighted/models/surveys.sql"),
    embed!("connectors/airbyte-freshservice/models/surveys.sql"),
    embed!("connectors/airbyte-freshservice/models/tickets.sql"),
    embed!("connectors/airbyte-hibob/models/employees.sql"),
    embed!("connectors/airbyte-northpass-lms/models/learning.sql"),
    embed!("connectors/bamboohr/models/employees.sql"),
    embed!("connectors/moodle/models/learning.sql"),
    embed!("connectors/qualtrics/models/survey_answers.sql"),
    embed!("connectors/hubspot/models/customers.sql"),
    embed!("connectors/hubspot/models/revenue.sql"),
    embed!("connectors/hubspot/models/touchpoints.sql"),
    embed!("connectors/sample/models/customers.sql"),
    embed!("connectors/sample/models/employees.sql"),
    embed!("connectors/sample/models/learning.sql"),
    embed!("connectors/sample/models/revenue.sql"),
    embed!("connectors/sample/models/surveys.sql"),
    embed!("connectors/sample/models/tickets.sql"),
    embed!("connectors/sample/models/touchpoint_targets.sql"),
    embed!("connectors/sample/models/touchpoints.sql"),
    embed!("connectors/surveymonkey/models/survey_answers.sql"),
    embed!("connectors/typeform/models/survey_answers.sql"),
    embed!("connectors/zendesk/models/surveys.sql"),
    embed!("connectors/zendesk/models/tickets.sql"),
    embed!("connectors/zendesk/models/touchpoints.sql"),
    embed!("sql/metrics/ces.sql"),
    embed!("sql/metrics/csat.sql"),
    embed!("sql/metrics/csi.sql"),
    embed!("sql/metrics/customer_churn.sql"),
    embed!("sql/metrics/customer_ltv.sql"),
    embed!("sql/metrics/cx_ex_link.sql"),
    embed!("sql/metrics/employee_attrition.sql"),
    embed!("sql/metrics/employee_ltv.sql"),
    embed!("sql/metrics/enps.sql"),
    embed!("sql/metrics/journey_funnel.sql"),
    embed!("sql/metrics/journey_paths.sql"),
    embed!("sql/metrics/nps.sql"),
    embed!("sql/metrics/retention_cohorts.sql"),
    embed!("sql/metrics/survey_coverage.sql"),
    embed!("sql/metrics/tenure.sql"),
    embed!("sql/metrics/time_to_stage.sql"),
    embed!("sql/metrics/touchpoint_scorecard.sql"),
    embed!("sql/metrics/tx_scorecard.sql"),
    embed!("sql/model/customers.sql"),
    embed!("sql/model/employees.sql"),
    embed!("sql/model/learning.sql"),
    embed!("sql/model/revenue.sql"),
    embed!("sql/mappings/surveys.sql"),
    embed!("sql/model/survey_answers.sql"),
    embed!("sql/model/surveys.sql"),
    embed!("sql/model/tickets.sql"),
    embed!("sql/model/touchpoint_targets.sql"),
    embed!("sql/model/touchpoints.sql"),
    embed!("sql/views/customer_stage_times.sql"),
    embed!("sql/views/event_times.sql"),
    embed!("sql/views/journey_stages.sql"),
];
