//! The emitter: turns simulated records into [`Message`]s.
//!
//! The simulation hands every record it produces to the emitter; the emitter drops the
//! records a read does not want (streams not in the catalog, records before the stream's
//! saved watermark), appends the rest to the stream's Arrow builder, sends a
//! `Message::Batch` whenever a builder holds `batch_size` rows, and at the end of a day
//! decides whether to checkpoint (flush every builder, then one `Message::State` per
//! incremental stream). It also notices when nobody listens any more, so the simulation
//! can stop.

use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use serde_json::json;
use txlake_connector::{ConnectorError, Message, Result, StreamMode, SyncMode};

use crate::read::{StreamPlan, format_cursor};
use crate::streams::{
    CourseRow, CoursesBuilder, CustomerRow, CustomersBuilder, DealRow, DealsBuilder, EmployeeRow, EmployeesBuilder,
    EnrollmentRow, EnrollmentsBuilder, RowBuilder, StreamKind, SurveyRow, SurveysBuilder, TargetRow, TargetsBuilder,
    TicketRow, TicketsBuilder, TouchpointRow, TouchpointsBuilder,
};

/// How one selected stream is read.
struct SlotPlan {
    /// Records whose cursor is below this are skipped (`i64::MIN`: emit everything).
    watermark: i64,
    /// Whether the stream gets `State` messages.
    incremental: bool,
    schema: SchemaRef,
}

/// One stream's builder and, if the read selected it, its plan.
struct Slot<B> {
    plan: Option<SlotPlan>,
    rows: B,
}

impl<B: RowBuilder> Slot<B> {
    fn new(plans: &[StreamPlan], batch_size: usize) -> Self {
        let plan = plans.iter().find(|p| p.kind == B::KIND).map(|p| SlotPlan {
            watermark: if p.mode.sync_mode() == SyncMode::Incremental {
                p.watermark.unwrap_or(i64::MIN)
            } else {
                i64::MIN
            },
            incremental: p.mode != StreamMode::FullRefresh,
            schema: B::KIND.schema(),
        });
        // Streams that are not read get a minimal builder: nothing is ever appended.
        let capacity = if plan.is_some() { batch_size.min(65_536) } else { 0 };
        Slot { plan, rows: B::with_capacity(capacity) }
    }

    /// Whether a record with this cursor is to be emitted.
    #[inline]
    fn accepts(&self, cursor: i64) -> bool {
        matches!(&self.plan, Some(p) if cursor >= p.watermark)
    }

    /// The rows built so far as a batch, if there are any.
    fn take(&mut self) -> Option<Result<RecordBatch, ArrowError>> {
        let plan = self.plan.as_ref()?;
        if self.rows.len() == 0 {
            return None;
        }
        Some(self.rows.finish(&plan.schema))
    }

    /// The cursor of the stream's next `State` message, if it is read incrementally.
    fn checkpoint(&self, cursor: i64) -> Option<i64> {
        self.plan.as_ref().filter(|p| p.incremental).map(|p| p.watermark.max(cursor))
    }
}

/// Generates one `emit` method per stream: filter on the cursor, append, flush when full.
macro_rules! emit_method {
    ($method:ident, $row:ident, $slot:ident, $kind:ident, $cursor:ident) => {
        #[doc = concat!("Emits one `", stringify!($slot), "` record, if the read wants it.")]
        #[inline]
        pub(crate) fn $method(&mut self, row: &$row<'_>) {
            if self.$slot.accepts(row.$cursor) {
                self.$slot.rows.append(row);
                self.since_checkpoint += 1;
                if self.$slot.rows.len() >= self.batch_size {
                    let batch = self.$slot.take();
                    self.deliver(StreamKind::$kind, batch);
                }
            }
        }
    };
}

/// Routes simulated records into batches and messages; see the module docs.
pub(crate) struct Emitter<'a> {
    sink: &'a mut dyn FnMut(Message) -> bool,
    batch_size: usize,
    since_checkpoint: usize,
    halted: bool,
    error: Option<ConnectorError>,
    customers: Slot<CustomersBuilder>,
    employees: Slot<EmployeesBuilder>,
    deals: Slot<DealsBuilder>,
    tickets: Slot<TicketsBuilder>,
    surveys: Slot<SurveysBuilder>,
    touchpoints: Slot<TouchpointsBuilder>,
    courses: Slot<CoursesBuilder>,
    enrollments: Slot<EnrollmentsBuilder>,
    targets: Slot<TargetsBuilder>,
}

impl<'a> Emitter<'a> {
    /// An emitter for these streams; `sink` receives every message and returns `false` once
    /// nobody listens any more.
    pub(crate) fn new(plans: &[StreamPlan], batch_size: usize, sink: &'a mut dyn FnMut(Message) -> bool) -> Self {
        let batch_size = batch_size.max(1);
        Emitter {
            sink,
            batch_size,
            since_checkpoint: 0,
            halted: false,
            error: None,
            customers: Slot::new(plans, batch_size),
            employees: Slot::new(plans, batch_size),
            deals: Slot::new(plans, batch_size),
            tickets: Slot::new(plans, batch_size),
            surveys: Slot::new(plans, batch_size),
            touchpoints: Slot::new(plans, batch_size),
            courses: Slot::new(plans, batch_size),
            enrollments: Slot::new(plans, batch_size),
            targets: Slot::new(plans, batch_size),
        }
    }

    emit_method!(customer, CustomerRow, customers, Customers, updated_at);
    emit_method!(employee, EmployeeRow, employees, Employees, updated_at);
    emit_method!(deal, DealRow, deals, Deals, closed_at);
    emit_method!(ticket, TicketRow, tickets, Tickets, updated_at);
    emit_method!(survey, SurveyRow, surveys, SurveyResponses, answered_at);
    emit_method!(touchpoint, TouchpointRow, touchpoints, TouchpointEvents, occurred_at);
    emit_method!(enrollment, EnrollmentRow, enrollments, Enrollments, updated_at);

    /// Emits one `courses` record (full refresh: no cursor).
    pub(crate) fn course(&mut self, row: &CourseRow<'_>) {
        if self.courses.accepts(i64::MAX) {
            self.courses.rows.append(row);
        }
    }

    /// Emits one `touchpoint_targets` record (full refresh: no cursor).
    pub(crate) fn target(&mut self, row: &TargetRow<'_>) {
        if self.targets.accepts(i64::MAX) {
            self.targets.rows.append(row);
        }
    }

    /// Whether a record of `kind` with this cursor would be emitted; lets the simulation
    /// skip preparing rows that would be dropped.
    #[inline]
    pub(crate) fn wants(&self, kind: StreamKind, cursor: i64) -> bool {
        match kind {
            StreamKind::Customers => self.customers.accepts(cursor),
            StreamKind::Employees => self.employees.accepts(cursor),
            StreamKind::Deals => self.deals.accepts(cursor),
            StreamKind::Tickets => self.tickets.accepts(cursor),
            StreamKind::SurveyResponses => self.surveys.accepts(cursor),
            StreamKind::TouchpointEvents => self.touchpoints.accepts(cursor),
            StreamKind::Courses => self.courses.accepts(cursor),
            StreamKind::Enrollments => self.enrollments.accepts(cursor),
            StreamKind::TouchpointTargets => self.targets.accepts(cursor),
        }
    }

    /// True once the receiver has gone or an error occurred: the simulation should stop.
    pub(crate) fn is_halted(&self) -> bool {
        self.halted
    }

    fn send(&mut self, message: Message) {
        if !self.halted && !(self.sink)(message) {
            self.halted = true;
        }
    }

    fn deliver(&mut self, kind: StreamKind, batch: Option<Result<RecordBatch, ArrowError>>) {
        match batch {
            Some(Ok(batch)) => self.send(Message::Batch { stream: kind.name().to_string(), batch }),
            Some(Err(e)) => {
                self.error.get_or_insert(ConnectorError::Arrow(e));
                self.halted = true;
            }
            None => {}
        }
    }

    /// Sends every non-empty builder as a batch, in catalog order.
    pub(crate) fn flush_all(&mut self) {
        for kind in StreamKind::ALL {
            self.flush(kind);
        }
    }

    /// Sends the stream's builder as a batch, if it holds rows.
    pub(crate) fn flush(&mut self, kind: StreamKind) {
        let batch = match kind {
            StreamKind::Customers => self.customers.take(),
            StreamKind::Employees => self.employees.take(),
            StreamKind::Deals => self.deals.take(),
            StreamKind::Tickets => self.tickets.take(),
            StreamKind::SurveyResponses => self.surveys.take(),
            StreamKind::TouchpointEvents => self.touchpoints.take(),
            StreamKind::Courses => self.courses.take(),
            StreamKind::Enrollments => self.enrollments.take(),
            StreamKind::TouchpointTargets => self.targets.take(),
        };
        self.deliver(kind, batch);
    }

    /// One `State` per incremental stream, each at `max(its watermark, cursor)`.
    fn states(&mut self, cursor: i64) {
        for kind in StreamKind::ALL {
            let at = match kind {
                StreamKind::Customers => self.customers.checkpoint(cursor),
                StreamKind::Employees => self.employees.checkpoint(cursor),
                StreamKind::Deals => self.deals.checkpoint(cursor),
                StreamKind::Tickets => self.tickets.checkpoint(cursor),
                StreamKind::SurveyResponses => self.surveys.checkpoint(cursor),
                StreamKind::TouchpointEvents => self.touchpoints.checkpoint(cursor),
                StreamKind::Courses => self.courses.checkpoint(cursor),
                StreamKind::Enrollments => self.enrollments.checkpoint(cursor),
                StreamKind::TouchpointTargets => self.targets.checkpoint(cursor),
            };
            if let Some(at) = at {
                let state = json!({ "cursor": format_cursor(at) });
                self.send(Message::State { stream: kind.name().to_string(), state });
            }
        }
    }

    /// Called after the last record of a day; `next_midnight` is the start of the next day.
    /// Checkpoints when at least four batches' worth of rows went out since the last one.
    pub(crate) fn end_of_day(&mut self, next_midnight: i64) {
        if self.since_checkpoint >= 4 * self.batch_size {
            self.flush_all();
            self.states(next_midnight);
            self.since_checkpoint = 0;
        }
    }

    /// Reports how many days have been simulated.
    pub(crate) fn progress(&mut self, done: u64, total: u64) {
        self.send(Message::Progress { stream: None, done, total: Some(total) });
    }

    /// Ends the read: flushes everything and sends the final states at `end` (the end of the
    /// emitted span), unless the read was cut short. Returns the first error met.
    pub(crate) fn finish(mut self, end: i64) -> Result<()> {
        if !self.halted {
            self.flush_all();
            self.states(end);
        }
        match self.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}
