//! End-to-end tests of txlake: the `txlake` binary, syncs into real Delta tables, crash
//! safety, failure paths, S3 storage. One test binary for the workspace (cheap to link).

mod airbyte;
mod airbyte_faker;
#[path = "../../connectors/airbyte-freshservice/tests/freshservice.rs"]
mod airbyte_freshservice;
#[path = "../../connectors/airbyte-hibob/tests/hibob.rs"]
mod airbyte_hibob;
#[path = "../../connectors/airbyte-northpass-lms/tests/northpass.rs"]
mod airbyte_northpass;
#[path = "../../connectors/airbyte-workable/tests/workable.rs"]
mod airbyte_workable;
#[path = "../../connectors/airbyte-zenefits/tests/zenefits.rs"]
mod airbyte_zenefits;
#[path = "../../connectors/airbyte-copper/tests/copper.rs"]
mod airbyte_copper;
#[path = "../../connectors/airbyte-delighted/tests/delighted.rs"]
mod airbyte_delighted;
#[path = "../../connectors/airbyte-pipedrive/tests/pipedrive.rs"]
mod airbyte_pipedrive;
#[path = "../../connectors/airbyte-survey-sparrow/tests/survey_sparrow.rs"]
mod airbyte_survey_sparrow;
mod airbyte_manifests;
mod api;
#[path = "../../connectors/bamboohr/tests/bamboohr.rs"]
mod bamboohr;
mod cli;
mod conformance;
mod console;
mod crash;
mod declarative;
mod declarative_airbyte_features;
mod delta_format;
#[path = "../../connectors/files/tests/files.rs"]
mod files;
mod helm;
mod manifest_fakes;
#[path = "../../connectors/hubspot/tests/hubspot.rs"]
mod hubspot;
#[path = "../../connectors/moodle/tests/moodle.rs"]
mod moodle;
mod odata;
mod openapi;
mod planted_effects;
#[path = "../../connectors/qualtrics/tests/qualtrics.rs"]
mod qualtrics;
mod rollups;
mod s3;
mod stream_failures;
mod support;
mod surveys;
#[path = "../../connectors/surveymonkey/tests/surveymonkey.rs"]
mod surveymonkey;
mod sync_modes;
#[path = "../../connectors/typeform/tests/typeform.rs"]
mod typeform;
#[path = "../../connectors/zendesk/tests/zendesk.rs"]
mod zendesk;
