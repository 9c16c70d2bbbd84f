//! The nine streams: their names, descriptions, Arrow schemas and catalog entries
//! ([`StreamKind`]), one row type per stream, and one Arrow builder per stream that appends
//! rows straight into column builders (no per-row allocation: strings are copied into the
//! builders' buffers, names and e-mails are formatted into a reused scratch `String`).

use std::sync::Arc;

use arrow::array::{
    ArrayBuilder, ArrayRef, BooleanBuilder, Float64Builder, Int32Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use txlake_connector::{Catalog, StreamDescriptor, StreamMode, SyncMode};

use crate::names;

/// One stream of the sample connector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StreamKind {
    /// Leads and customers, one row per lifecycle change.
    Customers,
    /// Staff, one row per hire, manager change and termination.
    Employees,
    /// Closed sales deals (new business and quarterly renewals).
    Deals,
    /// Support tickets, one row at creation and one at solve.
    Tickets,
    /// Answers to NPS, CSAT, CES and eNPS surveys.
    SurveyResponses,
    /// Customer-journey events.
    TouchpointEvents,
    /// The fixed training catalogue.
    Courses,
    /// Course enrolments, one row at enrolment and one at completion or drop.
    Enrollments,
    /// Desired experience per segment, touchpoint and metric.
    TouchpointTargets,
}

impl StreamKind {
    /// Every stream, in catalog order.
    pub const ALL: [StreamKind; 9] = [
        StreamKind::Customers,
        StreamKind::Employees,
        StreamKind::Deals,
        StreamKind::Tickets,
        StreamKind::SurveyResponses,
        StreamKind::TouchpointEvents,
        StreamKind::Courses,
        StreamKind::Enrollments,
        StreamKind::TouchpointTargets,
    ];

    /// The stream's name in the catalog.
    pub fn name(self) -> &'static str {
        match self {
            StreamKind::Customers => "customers",
            StreamKind::Employees => "employees",
            StreamKind::Deals => "deals",
            StreamKind::Tickets => "tickets",
            StreamKind::SurveyResponses => "survey_responses",
            StreamKind::TouchpointEvents => "touchpoint_events",
            StreamKind::Courses => "courses",
            StreamKind::Enrollments => "enrollments",
            StreamKind::TouchpointTargets => "touchpoint_targets",
        }
    }

    /// The stream of that name.
    pub fn from_name(name: &str) -> Option<StreamKind> {
        StreamKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The cursor column of an incremental stream (`None`: full refresh only).
    pub fn cursor_field(self) -> Option<&'static str> {
        match self {
            StreamKind::Customers | StreamKind::Employees | StreamKind::Tickets | StreamKind::Enrollments => {
                Some("updated_at")
            }
            StreamKind::Deals => Some("closed_at"),
            StreamKind::SurveyResponses => Some("answered_at"),
            StreamKind::TouchpointEvents => Some("occurred_at"),
            StreamKind::Courses | StreamKind::TouchpointTargets => None,
        }
    }

    /// The mode a connection uses unless it chooses one.
    pub fn default_mode(self) -> StreamMode {
        match self {
            StreamKind::Customers | StreamKind::Employees | StreamKind::Tickets | StreamKind::Enrollments => {
                StreamMode::IncrementalDedupe
            }
            StreamKind::Deals | StreamKind::SurveyResponses | StreamKind::TouchpointEvents => {
                StreamMode::IncrementalAppend
            }
            StreamKind::Courses | StreamKind::TouchpointTargets => StreamMode::FullRefresh,
        }
    }

    /// One sentence on what a record is.
    pub fn description(self) -> &'static str {
        match self {
            StreamKind::Customers => {
                "A lead or customer; a full row at arrival (lead), at purchase (customer) and at churn (churned)."
            }
            StreamKind::Employees => {
                "A member of staff; a full row at start (initial staff), on hire, on manager change and on termination."
            }
            StreamKind::Deals => "A closed sales deal: new business or a quarterly renewal, won or lost.",
            StreamKind::Tickets => "A support ticket; one row when opened and one when solved.",
            StreamKind::SurveyResponses => {
                "One survey answer: customer NPS (0-10), CSAT (1-5), CES (1-7, 1 = very easy) or employee eNPS (0-10)."
            }
            StreamKind::TouchpointEvents => "One customer-journey event at a touchpoint, on a channel.",
            StreamKind::Courses => "A training course of the learning catalogue.",
            StreamKind::Enrollments => {
                "An employee's enrolment in a course; one row at enrolment and one at completion or drop."
            }
            StreamKind::TouchpointTargets => "The desired experience (target) per segment, touchpoint and metric.",
        }
    }

    /// The Arrow schema of the stream's batches.
    pub fn schema(self) -> SchemaRef {
        let fields = match self {
            StreamKind::Customers => vec![
                id("id"),
                text("email"),
                text("name"),
                text("segment"),
                text("country"),
                text("acquisition_channel"),
                text("lifecycle_stage"),
                text("support_team"),
                ts("created_at", false),
                ts("became_customer_at", true),
                ts("churned_at", true),
                ts("updated_at", false),
            ],
            StreamKind::Employees => vec![
                id("id"),
                text("email"),
                text("name"),
                text("department"),
                text("team"),
                text("role"),
                Field::new("manager_id", DataType::Int64, true),
                ts("hired_at", false),
                ts("terminated_at", true),
                Field::new("annual_cost", DataType::Float64, false),
                text("currency"),
                ts("updated_at", false),
            ],
            StreamKind::Deals => vec![
                id("id"),
                id("customer_id"),
                id("owner_id"),
                text("kind"),
                text("stage"),
                Field::new("amount", DataType::Float64, false),
                text("currency"),
                ts("created_at", false),
                ts("closed_at", false),
            ],
            StreamKind::Tickets => vec![
                id("id"),
                id("customer_id"),
                id("assignee_id"),
                text("channel"),
                text("priority"),
                text("subject"),
                text("status"),
                ts("created_at", false),
                ts("first_response_at", true),
                ts("solved_at", true),
                Field::new("reopened", DataType::Boolean, false),
                ts("updated_at", false),
            ],
            StreamKind::SurveyResponses => vec![
                id("id"),
                text("respondent_kind"),
                id("respondent_id"),
                text("survey"),
                Field::new("score", DataType::Int32, false),
                Field::new("scale_min", DataType::Int32, false),
                Field::new("scale_max", DataType::Int32, false),
                text("touchpoint"),
                text("channel"),
                Field::new("ticket_id", DataType::Int64, true),
                ts("answered_at", false),
            ],
            StreamKind::TouchpointEvents => vec![
                id("id"),
                id("customer_id"),
                text("stage"),
                text("touchpoint"),
                text("channel"),
                Field::new("employee_id", DataType::Int64, true),
                ts("occurred_at", false),
            ],
            StreamKind::Courses => vec![
                id("id"),
                text("name"),
                text("category"),
                Field::new("duration_hours", DataType::Int32, false),
                Field::new("mandatory", DataType::Boolean, false),
            ],
            StreamKind::Enrollments => vec![
                id("id"),
                id("employee_id"),
                id("course_id"),
                text("status"),
                ts("enrolled_at", false),
                ts("completed_at", true),
                Field::new("score", DataType::Float64, true),
                ts("updated_at", false),
            ],
            StreamKind::TouchpointTargets => vec![
                id("id"),
                text("segment"),
                text("touchpoint"),
                text("metric"),
                Field::new("target", DataType::Float64, false),
            ],
        };
        Arc::new(Schema::new(fields))
    }

    /// The catalog entry of the stream.
    pub fn descriptor(self) -> StreamDescriptor {
        let cursor = self.cursor_field();
        StreamDescriptor {
            name: self.name().to_string(),
            description: self.description().to_string(),
            schema: self.schema(),
            primary_key: vec!["id".to_string()],
            cursor_field: cursor.map(str::to_string),
            sync_modes: if cursor.is_some() {
                vec![SyncMode::FullRefresh, SyncMode::Incremental]
            } else {
                vec![SyncMode::FullRefresh]
            },
            default_mode: self.default_mode(),
        }
    }
}

/// The full catalog of the sample connector (the same for every configuration).
pub fn catalog() -> Catalog {
    Catalog { streams: StreamKind::ALL.into_iter().map(StreamKind::descriptor).collect(), questions: Vec::new() }
}

/// The Arrow type of every timestamp: microseconds, UTC.
pub fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn id(name: &str) -> Field {
    Field::new(name, DataType::Int64, false)
}

fn text(name: &str) -> Field {
    Field::new(name, DataType::Utf8, false)
}

fn ts(name: &str, nullable: bool) -> Field {
    Field::new(name, timestamp_type(), nullable)
}

fn ts_builder(capacity: usize) -> TimestampMicrosecondBuilder {
    TimestampMicrosecondBuilder::with_capacity(capacity).with_timezone("UTC")
}

fn str_builder(capacity: usize, bytes_per_value: usize) -> StringBuilder {
    StringBuilder::with_capacity(capacity, capacity * bytes_per_value)
}

/// What every per-stream builder offers the emitter.
pub(crate) trait RowBuilder {
    /// The kind of stream it builds.
    const KIND: StreamKind;
    /// Rows appended since the last `finish`.
    fn len(&self) -> usize;
    /// The rows appended so far as a batch; the builder is empty afterwards.
    fn finish(&mut self, schema: &SchemaRef) -> Result<RecordBatch, ArrowError>;
    /// An empty builder sized for `capacity` rows per batch.
    fn with_capacity(capacity: usize) -> Self;
}

/// Builds one record batch from finished column arrays.
fn batch(schema: &SchemaRef, columns: Vec<ArrayRef>) -> Result<RecordBatch, ArrowError> {
    RecordBatch::try_new(schema.clone(), columns)
}

// ---------------------------------------------------------------------------------------
// customers

/// One `customers` row. Name and e-mail are formatted by the builder from the parts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CustomerRow<'a> {
    pub id: i64,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub domain: &'a str,
    pub segment: &'a str,
    pub country: &'a str,
    pub acquisition_channel: &'a str,
    pub lifecycle_stage: &'a str,
    pub support_team: &'a str,
    pub created_at: i64,
    pub became_customer_at: Option<i64>,
    pub churned_at: Option<i64>,
    pub updated_at: i64,
}

/// Column builders of `customers`.
pub(crate) struct CustomersBuilder {
    id: Int64Builder,
    email: StringBuilder,
    name: StringBuilder,
    segment: StringBuilder,
    country: StringBuilder,
    acquisition_channel: StringBuilder,
    lifecycle_stage: StringBuilder,
    support_team: StringBuilder,
    created_at: TimestampMicrosecondBuilder,
    became_customer_at: TimestampMicrosecondBuilder,
    churned_at: TimestampMicrosecondBuilder,
    updated_at: TimestampMicrosecondBuilder,
    scratch: String,
}

impl CustomersBuilder {
    /// Appends one row.
    pub(crate) fn append(&mut self, r: &CustomerRow<'_>) {
        self.id.append_value(r.id);
        names::write_email(&mut self.scratch, r.first_name, r.last_name, r.id, r.domain);
        self.email.append_value(&self.scratch);
        names::write_name(&mut self.scratch, r.first_name, r.last_name);
        self.name.append_value(&self.scratch);
        self.segment.append_value(r.segment);
        self.country.append_value(r.country);
        self.acquisition_channel.append_value(r.acquisition_channel);
        self.lifecycle_stage.append_value(r.lifecycle_stage);
        self.support_team.append_value(r.support_team);
        self.created_at.append_value(r.created_at);
        self.became_customer_at.append_option(r.became_customer_at);
        self.churned_at.append_option(r.churned_at);
        self.updated_at.append_value(r.updated_at);
    }
}

impl RowBuilder for CustomersBuilder {
    const KIND: StreamKind = StreamKind::Customers;

    fn len(&self) -> usize {
        self.id.len()
    }

    fn finish(&mut self, schema: &SchemaRef) -> Result<RecordBatch, ArrowError> {
        batch(
            schema,
            vec![
                Arc::new(self.id.finish()),
                Arc::new(self.email.finish()),
                Arc::new(self.name.finish()),
                Arc::new(self.segment.finish()),
                Arc::new(self.country.finish()),
                Arc::new(self.acquisition_channel.finish()),
                Arc::new(self.lifecycle_stage.finish()),
                Arc::new(self.support_team.finish()),
                Arc::new(self.created_at.finish()),
                Arc::new(self.became_customer_at.finish()),
                Arc::new(self.churned_at.finish()),
                Arc::new(self.updated_at.finish()),
            ],
        )
    }

    fn with_capacity(n: usize) -> Self {
        CustomersBuilder {
            id: Int64Builder::with_capacity(n),
            email: str_builder(n, 32),
            name: str_builder(n, 14),
            segment: str_builder(n, 10),
            country: str_builder(n, 2),
            acquisition_channel: str_builder(n, 12),
            lifecycle_stage: str_builder(n, 8),
            support_team: str_builder(n, 10),
            created_at: ts_builder(n),
            became_customer_at: ts_builder(n),
            churned_at: ts_builder(n),
            updated_at: ts_builder(n),
            scratch: String::with_capacity(64),
        }
    }
}

// ---------------------------------------------------------------------------------------
// employees

/// One `employees` row.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EmployeeRow<'a> {
    pub id: i64,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub department: &'a str,
    pub team: &'a str,
    pub role: &'a str,
    pub manager_id: Option<i64>,
    pub hired_at: i64,
    pub terminated_at: Option<i64>,
    pub annual_cost: f64,
    pub currency: &'a str,
    pub updated_at: i64,
}

/// Column builders of `employees`.
pub(crate) struct EmployeesBuilder {
    id: Int64Builder,
    email: StringBuilder,
    name: StringBuilder,
    department: StringBuilder,
    team: StringBuilder,
    role: StringBuilder,
    manager_id: Int64Builder,
    hired_at: TimestampMicrosecondBuilder,
    terminated_at: TimestampMicrosecondBuilder,
    annual_cost: Float64Builder,
    currency: StringBuilder,
    updated_at: TimestampMicrosecondBuilder,
    scratch: String,
}

impl EmployeesBuilder {
    /// Appends one row.
    pub(crate) fn append(&mut self, r: &EmployeeRow<'_>) {
        self.id.append_value(r.id);
        names::write_email(&mut self.scratch, r.first_name, r.last_name, r.id, names::EMPLOYEE_DOMAIN);
        self.email.append_value(&self.scratch);
        names::write_name(&mut self.scratch, r.first_name, r.last_name);
        self.name.append_value(&self.scratch);
        self.department.append_value(r.department);
        self.team.append_value(r.team);
        self.role.append_value(r.role);
        self.manager_id.append_option(r.manager_id);
        self.hired_at.append_value(r.hired_at);
        self.terminated_at.append_option(r.terminated_at);
        self.annual_cost.append_value(r.annual_cost);
        self.currency.append_value(r.currency);
        self.updated_at.append_value(r.updated_at);
    }
}

impl RowBuilder for EmployeesBuilder {
    const KIND: StreamKind = StreamKind::Employees;

    fn len(&self) -> usize {
        self.id.len()
    }

    fn finish(&mut self, schema: &SchemaRef) -> Result<RecordBatch, ArrowError> {
        batch(
            schema,
            vec![
                Arc::new(self.id.finish()),
                Arc::new(self.email.finish()),
                Arc::new(self.name.finish()),
                Arc::new(self.department.finish()),
                Arc::new(self.team.finish()),
                Arc::new(self.role.finish()),
                Arc::new(self.manager_id.finish()),
                Arc::new(self.hired_at.finish()),
                Arc::new(self.terminated_at.finish()),
                Arc::new(self.annual_cost.finish()),
                Arc::new(self.currency.finish()),
                Arc::new(self.updated_at.finish()),
            ],
        )
    }

    fn with_capacity(n: usize) -> Self {
        // Employees are few; do not reserve a full batch per column.
        let n = n.min(1024);
        EmployeesBuilder {
            id: Int64Builder::with_capacity(n),
            email: str_builder(n, 36),
            name: str_builder(n, 14),
            department: str_builder(n, 10),
            team: str_builder(n, 10),
            role: str_builder(n, 16),
            manager_id: Int64Builder::with_capacity(n),
            hired_at: ts_builder(n),
            terminated_at: ts_builder(n),
            annual_cost: Float64Builder::with_capacity(n),
            currency: str_builder(n, 3),
            updated_at: ts_builder(n),
            scratch: String::with_capacity(64),
        }
    }
}

// ---------------------------------------------------------------------------------------
// deals

/// One `deals` row.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DealRow<'a> {
    pub id: i64,
    pub customer_id: i64,
    pub owner_id: i64,
    pub kind: &'a str,
    pub stage: &'a str,
    pub amount: f64,
    pub currency: &'a str,
    pub created_at: i64,
    pub closed_at: i64,
}

/// Column builders of `deals`.
pub(crate) struct DealsBuilder {
    id: Int64Builder,
    customer_id: Int64Builder,
    owner_id: Int64Builder,
    kind: StringBuilder,
    stage: StringBuilder,
    amount: Float64Builder,
    currency: StringBuilder,
    created_at: TimestampMicrosecondBuilder,
    closed_at: TimestampMicrosecondBuilder,
}

impl DealsBuilder {
    /// Appends one row.
    pub(crate) fn append(&mut self, r: &DealRow<'_>) {
        self.id.append_value(r.id);
        self.customer_id.append_value(r.customer_id);
        self.owner_id.append_value(r.owner_id);
        self.kind.append_value(r.kind);
        self.stage.append_value(r.stage);
        self.amount.append_value(r.amount);
        self.currency.append_value(r.currency);
        self.created_at.append_value(r.created_at);
        self.closed_at.append_value(r.closed_at);
    }
}

impl RowBuilder for DealsBuilder {
    const KIND: StreamKind = StreamKind::Deals;

    fn len(&self) -> usize {
        self.id.len()
    }

    fn finish(&mut self, schema: &SchemaRef) -> Result<RecordBatch, ArrowError> {
        batch(
            schema,
            vec![
                Arc::new(self.id.finish()),
                Arc::new(self.customer_id.finish()),
                Arc::new(self.owner_id.finish()),
                Arc::new(self.kind.finish()),
                Arc::new(self.stage.finish()),
                Arc::new(self.amount.finish()),
                Arc::new(self.currency.finish()),
                Arc::new(self.created_at.finish()),
                Arc::new(self.closed_at.finish()),
            ],
        )
    }

    fn with_capacity(n: usize) -> Self {
        DealsBuilder {
            id: Int64Builder::with_capacity(n),
            customer_id: Int64Builder::with_capacity(n),
            owner_id: Int64Builder::with_capacity(n),
            kind: str_builder(n, 7),
            stage: str_builder(n, 4),
            amount: Float64Builder::with_capacity(n),
            currency: str_builder(n, 3),
            created_at: ts_builder(n),
            closed_at: ts_builder(n),
        }
    }
}

// ---------------------------------------------------------------------------------------
// tickets

/// One `tickets` row.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TicketRow<'a> {
    pub id: i64,
    pub customer_id: i64,
    pub assignee_id: i64,
    pub channel: &'a str,
    pub priority: &'a str,
    pub subject: &'a str,
    pub status: &'a str,
    pub created_at: i64,
    pub first_response_at: Option<i64>,
    pub solved_at: Option<i64>,
    pub reopened: bool,
    pub updated_at: i64,
}

/// Column builders of `tickets`.
pub(crate) struct TicketsBuilder {
    id: Int64Builder,
    customer_id: Int64Builder,
    assignee_id: Int64Builder,
    channel: StringBuilder,
    priority: StringBuilder,
    subject: StringBuilder,
    status: StringBuilder,
    created_at: TimestampMicrosecondBuilder,
    first_response_at: TimestampMicrosecondBuilder,
    solved_at: TimestampMicrosecondBuilder,
    reopened: BooleanBuilder,
    updated_at: TimestampMicrosecondBuilder,
}

impl TicketsBuilder {
    /// Appends one row.
    pub(crate) fn append(&mut self, r: &TicketRow<'_>) {
        self.id.append_value(r.id);
        self.customer_id.append_value(r.customer_id);
        self.assignee_id.append_value(r.assignee_id);
        self.channel.append_value(r.channel);
        self.priority.append_value(r.priority);
        self.subject.append_value(r.subject);
        self.status.append_value(r.status);
        self.created_at.append_value(r.created_at);
        self.first_response_at.append_option(r.first_response_at);
        self.solved_at.append_option(r.solved_at);
        self.reopened.append_value(r.reopened);
        self.updated_at.append_value(r.updated_at);
    }
}

impl RowBuilder for TicketsBuilder {
    const KIND: StreamKind = StreamKind::Tickets;

    fn len(&self) -> usize {
        self.id.len()
    }

    fn finish(&mut self, schema: &SchemaRef) -> Result<RecordBatch, ArrowError> {
        batch(
            schema,
            vec![
                Arc::new(self.id.finish()),
                Arc::new(self.customer_id.finish()),
                Arc::new(self.assignee_id.finish()),
                Arc::new(self.channel.finish()),
                Arc::new(self.priority.finish()),
                Arc::new(self.subject.finish()),
                Arc::new(self.status.finish()),
                Arc::new(self.created_at.finish()),
                Arc::new(self.first_response_at.finish()),
                Arc::new(self.solved_at.finish()),
                Arc::new(self.reopened.finish()),
                Arc::new(self.updated_at.finish()),
            ],
        )
    }

    fn with_capacity(n: usize) -> Self {
        TicketsBuilder {
            id: Int64Builder::with_capacity(n),
            customer_id: Int64Builder::with_capacity(n),
            assignee_id: Int64Builder::with_capacity(n),
            channel: str_builder(n, 5),
            priority: str_builder(n, 6),
            subject: str_builder(n, 24),
            status: str_builder(n, 6),
            created_at: ts_builder(n),
            first_response_at: ts_builder(n),
            solved_at: ts_builder(n),
            reopened: BooleanBuilder::with_capacity(n),
            updated_at: ts_builder(n),
        }
    }
}

// ---------------------------------------------------------------------------------------
// survey_responses

/// One `survey_responses` row.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SurveyRow<'a> {
    pub id: i64,
    pub respondent_kind: &'a str,
    pub respondent_id: i64,
    pub survey: &'a str,
    pub score: i32,
    pub scale_min: i32,
    pub scale_max: i32,
    pub touchpoint: &'a str,
    pub channel: &'a str,
    pub ticket_id: Option<i64>,
    pub answered_at: i64,
}

/// Column builders of `survey_responses`.
pub(crate) struct SurveysBuilder {
    id: Int64Builder,
    respondent_kind: StringBuilder,
    respondent_id: Int64Builder,
    survey: StringBuilder,
    score: Int32Builder,
    scale_min: Int32Builder,
    scale_max: Int32Builder,
    touchpoint: StringBuilder,
    channel: StringBuilder,
    ticket_id: Int64Builder,
    answered_at: TimestampMicrosecondBuilder,
}

impl SurveysBuilder {
    /// Appends one row.
    pub(crate) fn append(&mut self, r: &SurveyRow<'_>) {
        self.id.append_value(r.id);
        self.respondent_kind.append_value(r.respondent_kind);
        self.respondent_id.append_value(r.respondent_id);
        self.survey.append_value(r.survey);
        self.score.append_value(r.score);
        self.scale_min.append_value(r.scale_min);
        self.scale_max.append_value(r.scale_max);
        self.touchpoint.append_value(r.touchpoint);
        self.channel.append_value(r.channel);
        self.ticket_id.append_option(r.ticket_id);
        self.answered_at.append_value(r.answered_at);
    }
}

impl RowBuilder for SurveysBuilder {
    const KIND: StreamKind = StreamKind::SurveyResponses;

    fn len(&self) -> usize {
        self.id.len()
    }

    fn finish(&mut self, schema: &SchemaRef) -> Result<RecordBatch, ArrowError> {
        batch(
            schema,
            vec![
                Arc::new(self.id.finish()),
                Arc::new(self.respondent_kind.finish()),
                Arc::new(self.respondent_id.finish()),
                Arc::new(self.survey.finish()),
                Arc::new(self.score.finish()),
                Arc::new(self.scale_min.finish()),
                Arc::new(self.scale_max.finish()),
                Arc::new(self.touchpoint.finish()),
                Arc::new(self.channel.finish()),
                Arc::new(self.ticket_id.finish()),
                Arc::new(self.answered_at.finish()),
            ],
        )
    }

    fn with_capacity(n: usize) -> Self {
        SurveysBuilder {
            id: Int64Builder::with_capacity(n),
            respondent_kind: str_builder(n, 8),
            respondent_id: Int64Builder::with_capacity(n),
            survey: str_builder(n, 4),
            score: Int32Builder::with_capacity(n),
            scale_min: Int32Builder::with_capacity(n),
            scale_max: Int32Builder::with_capacity(n),
            touchpoint: str_builder(n, 14),
            channel: str_builder(n, 5),
            ticket_id: Int64Builder::with_capacity(n),
            answered_at: ts_builder(n),
        }
    }
}

// ---------------------------------------------------------------------------------------
// touchpoint_events

/// One `touchpoint_events` row.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TouchpointRow<'a> {
    pub id: i64,
    pub customer_id: i64,
    pub stage: &'a str,
    pub touchpoint: &'a str,
    pub channel: &'a str,
    pub employee_id: Option<i64>,
    pub occurred_at: i64,
}

/// Column builders of `touchpoint_events`.
pub(crate) struct TouchpointsBuilder {
    id: Int64Builder,
    customer_id: Int64Builder,
    stage: StringBuilder,
    touchpoint: StringBuilder,
    channel: StringBuilder,
    employee_id: Int64Builder,
    occurred_at: TimestampMicrosecondBuilder,
}

impl TouchpointsBuilder {
    /// Appends one row.
    pub(crate) fn append(&mut self, r: &TouchpointRow<'_>) {
        self.id.append_value(r.id);
        self.customer_id.append_value(r.customer_id);
        self.stage.append_value(r.stage);
        self.touchpoint.append_value(r.touchpoint);
        self.channel.append_value(r.channel);
        self.employee_id.append_option(r.employee_id);
        self.occurred_at.append_value(r.occurred_at);
    }
}

impl RowBuilder for TouchpointsBuilder {
    const KIND: StreamKind = StreamKind::TouchpointEvents;

    fn len(&self) -> usize {
        self.id.len()
    }

    fn finish(&mut self, schema: &SchemaRef) -> Result<RecordBatch, ArrowError> {
        batch(
            schema,
            vec![
                Arc::new(self.id.finish()),
                Arc::new(self.customer_id.finish()),
                Arc::new(self.stage.finish()),
                Arc::new(self.touchpoint.finish()),
                Arc::new(self.channel.finish()),
                Arc::new(self.employee_id.finish()),
                Arc::new(self.occurred_at.finish()),
            ],
        )
    }

    fn with_capacity(n: usize) -> Self {
        TouchpointsBuilder {
            id: Int64Builder::with_capacity(n),
            customer_id: Int64Builder::with_capacity(n),
            stage: str_builder(n, 8),
            touchpoint: str_builder(n, 13),
            channel: str_builder(n, 5),
            employee_id: Int64Builder::with_capacity(n),
            occurred_at: ts_builder(n),
        }
    }
}

// ---------------------------------------------------------------------------------------
// courses

/// One `courses` row.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CourseRow<'a> {
    pub id: i64,
    pub name: &'a str,
    pub category: &'a str,
    pub duration_hours: i32,
    pub mandatory: bool,
}

/// Column builders of `courses`.
pub(crate) struct CoursesBuilder {
    id: Int64Builder,
    name: StringBuilder,
    category: StringBuilder,
    duration_hours: Int32Builder,
    mandatory: BooleanBuilder,
}

impl CoursesBuilder {
    /// Appends one row.
    pub(crate) fn append(&mut self, r: &CourseRow<'_>) {
        self.id.append_value(r.id);
        self.name.append_value(r.name);
        self.category.append_value(r.category);
        self.duration_hours.append_value(r.duration_hours);
        self.mandatory.append_value(r.mandatory);
    }
}

impl RowBuilder for CoursesBuilder {
    const KIND: StreamKind = StreamKind::Courses;

    fn len(&self) -> usize {
        self.id.len()
    }

    fn finish(&mut self, schema: &SchemaRef) -> Result<RecordBatch, ArrowError> {
        batch(
            schema,
            vec![
                Arc::new(self.id.finish()),
                Arc::new(self.name.finish()),
                Arc::new(self.category.finish()),
                Arc::new(self.duration_hours.finish()),
                Arc::new(self.mandatory.finish()),
            ],
        )
    }

    fn with_capacity(_: usize) -> Self {
        let n = 16;
        CoursesBuilder {
            id: Int64Builder::with_capacity(n),
            name: str_builder(n, 32),
            category: str_builder(n, 16),
            duration_hours: Int32Builder::with_capacity(n),
            mandatory: BooleanBuilder::with_capacity(n),
        }
    }
}

// ---------------------------------------------------------------------------------------
// enrollments

/// One `enrollments` row.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EnrollmentRow<'a> {
    pub id: i64,
    pub employee_id: i64,
    pub course_id: i64,
    pub status: &'a str,
    pub enrolled_at: i64,
    pub completed_at: Option<i64>,
    pub score: Option<f64>,
    pub updated_at: i64,
}

/// Column builders of `enrollments`.
pub(crate) struct EnrollmentsBuilder {
    id: Int64Builder,
    employee_id: Int64Builder,
    course_id: Int64Builder,
    status: StringBuilder,
    enrolled_at: TimestampMicrosecondBuilder,
    completed_at: TimestampMicrosecondBuilder,
    score: Float64Builder,
    updated_at: TimestampMicrosecondBuilder,
}

impl EnrollmentsBuilder {
    /// Appends one row.
    pub(crate) fn append(&mut self, r: &EnrollmentRow<'_>) {
        self.id.append_value(r.id);
        self.employee_id.append_value(r.employee_id);
        self.course_id.append_value(r.course_id);
        self.status.append_value(r.status);
        self.enrolled_at.append_value(r.enrolled_at);
        self.completed_at.append_option(r.completed_at);
        self.score.append_option(r.score);
        self.updated_at.append_value(r.updated_at);
    }
}

impl RowBuilder for EnrollmentsBuilder {
    const KIND: StreamKind = StreamKind::Enrollments;

    fn len(&self) -> usize {
        self.id.len()
    }

    fn finish(&mut self, schema: &SchemaRef) -> Result<RecordBatch, ArrowError> {
        batch(
            schema,
            vec![
                Arc::new(self.id.finish()),
                Arc::new(self.employee_id.finish()),
                Arc::new(self.course_id.finish()),
                Arc::new(self.status.finish()),
                Arc::new(self.enrolled_at.finish()),
                Arc::new(self.completed_at.finish()),
                Arc::new(self.score.finish()),
                Arc::new(self.updated_at.finish()),
            ],
        )
    }

    fn with_capacity(n: usize) -> Self {
        let n = n.min(1024);
        EnrollmentsBuilder {
            id: Int64Builder::with_capacity(n),
            employee_id: Int64Builder::with_capacity(n),
            course_id: Int64Builder::with_capacity(n),
            status: str_builder(n, 9),
            enrolled_at: ts_builder(n),
            completed_at: ts_builder(n),
            score: Float64Builder::with_capacity(n),
            updated_at: ts_builder(n),
        }
    }
}

// ---------------------------------------------------------------------------------------
// touchpoint_targets

/// One `touchpoint_targets` row.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TargetRow<'a> {
    pub id: i64,
    pub segment: &'a str,
    pub touchpoint: &'a str,
    pub metric: &'a str,
    pub target: f64,
}

/// Column builders of `touchpoint_targets`.
pub(crate) struct TargetsBuilder {
    id: Int64Builder,
    segment: StringBuilder,
    touchpoint: StringBuilder,
    metric: StringBuilder,
    target: Float64Builder,
}

impl TargetsBuilder {
    /// Appends one row.
    pub(crate) fn append(&mut self, r: &TargetRow<'_>) {
        self.id.append_value(r.id);
        self.segment.append_value(r.segment);
        self.touchpoint.append_value(r.touchpoint);
        self.metric.append_value(r.metric);
        self.target.append_value(r.target);
    }
}

impl RowBuilder for TargetsBuilder {
    const KIND: StreamKind = StreamKind::TouchpointTargets;

    fn len(&self) -> usize {
        self.id.len()
    }

    fn finish(&mut self, schema: &SchemaRef) -> Result<RecordBatch, ArrowError> {
        batch(
            schema,
            vec![
                Arc::new(self.id.finish()),
                Arc::new(self.segment.finish()),
                Arc::new(self.touchpoint.finish()),
                Arc::new(self.metric.finish()),
                Arc::new(self.target.finish()),
            ],
        )
    }

    fn with_capacity(_: usize) -> Self {
        let n = 32;
        TargetsBuilder {
            id: Int64Builder::with_capacity(n),
            segment: str_builder(n, 10),
            touchpoint: str_builder(n, 16),
            metric: str_builder(n, 4),
            target: Float64Builder::with_capacity(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_is_complete_and_consistent() {
        let catalog = catalog();
        assert_eq!(catalog.streams.len(), 9);
        for kind in StreamKind::ALL {
            let d = catalog.stream(kind.name()).unwrap();
            assert_eq!(StreamKind::from_name(kind.name()), Some(kind));
            assert_eq!(d.primary_key, vec!["id"]);
            assert_eq!(d.schema.field(0).name(), "id");
            assert_eq!(d.schema.field(0).data_type(), &DataType::Int64);
            d.check_mode(d.default_mode).unwrap();
            match &d.cursor_field {
                Some(cursor) => {
                    let field = d.schema.field_with_name(cursor).unwrap();
                    assert_eq!(field.data_type(), &timestamp_type());
                    assert!(!field.is_nullable(), "cursor {cursor} must never be null");
                    assert_eq!(d.sync_modes, vec![SyncMode::FullRefresh, SyncMode::Incremental]);
                }
                None => {
                    assert_eq!(d.sync_modes, vec![SyncMode::FullRefresh]);
                    assert!(d.check_mode(StreamMode::IncrementalAppend).is_err());
                }
            }
        }
        assert_eq!(StreamKind::from_name("nope"), None);
    }
}
