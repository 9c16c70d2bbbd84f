//! Engine tests. `engine` covers the engine on a one-table fixture; `fixture` builds small
//! sample-shaped lakes for the metric tests, whose expected numbers are worked out by hand in
//! each test's comments.

mod engine;
mod fixture;
mod metrics_customers;
mod metrics_journeys;
mod metrics_surveys;
mod survey_mapping;
