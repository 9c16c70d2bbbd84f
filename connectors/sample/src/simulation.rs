//! The day-by-day simulation of customers and their journeys.
//!
//! A discrete-event simulation with a calendar of wake-ups: each customer has at most one
//! pending wake-up day, kept in a ring of per-day buckets. Day `d` runs, in order: the
//! staff's day ([`Staff::day`]), the arrival of the leads whose arrival day is `d`, then the
//! wake-up of every customer in the day's bucket. Every record made on day `d` carries a
//! cursor within day `d`, so cursors never go back across days and the emitter can
//! checkpoint at any midnight.
//!
//! A customer's state is a small `Copy` struct (64 bytes: its own random generator, stage,
//! segment, team, satisfaction, last NPS category, next wake-up days, open ticket, …); names
//! and other fixed attributes are derived from `(seed, id)` when a row needs them, so a
//! million customers cost 64 MB and no record is ever held back.
//!
//! The journey: a lead arrives (awareness) on day `i * days / customers`; 60% come back for
//! consideration 1–14 days later (a deal opens); half of those buy 3–30 days later (new
//! deal won, customer row), 60% of the rest produce a lost deal; onboarding follows 1–7 days
//! after purchase; then a usage cycle of check-ins every 5–14 days (product usage,
//! newsletters, tickets), a relationship NPS every quarter, and a renewal every quarter after
//! purchase, where the customer may churn (planted effect 3).

use crate::config::Settings;
use crate::emit::Emitter;
use crate::rng::{Domain, Rng};
use crate::staff::Staff;
use crate::streams::{CourseRow, CustomerRow, DealRow, StreamKind, SurveyRow, TargetRow, TicketRow, TouchpointRow};
use crate::world::{
    ACQUISITION, COURSES, CURRENCY, CustomerIdentity, Department, NPS_TOUCHPOINT, Segment, TARGETS, TicketFacts, stage,
};

/// Seconds per day.
pub(crate) const DAY: u32 = 86_400;
/// Seconds per hour.
pub(crate) const HOUR: u32 = 3_600;
/// Seconds per minute.
const MINUTE: u32 = 60;
/// Days between relationship NPS surveys, renewals and eNPS campaigns.
pub(crate) const QUARTER: u32 = 91;
/// "No day" / "no value" marker in packed state.
pub(crate) const NONE: u32 = u32::MAX;
/// Length of the wake-up calendar ring; every wake-up is scheduled fewer days ahead.
const RING: u32 = 128;

/// Converts simulation time (seconds since `start_date` midnight) to timestamps.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    start_us: i64,
}

impl Clock {
    /// A clock starting at `start_us` (microseconds since the epoch).
    pub(crate) fn new(start_us: i64) -> Self {
        Clock { start_us }
    }

    /// Microseconds since the epoch of `s` seconds after the start.
    #[inline]
    pub(crate) fn us(&self, s: u32) -> i64 {
        self.start_us + i64::from(s) * 1_000_000
    }

    /// Microseconds since the epoch of midnight starting day `d`.
    #[inline]
    pub(crate) fn midnight(&self, d: u32) -> i64 {
        self.us(d * DAY)
    }

    /// A random second of day `d` between `from_h` and `to_h` o'clock.
    #[inline]
    pub(crate) fn at(&self, d: u32, from_h: u32, to_h: u32, rng: &mut Rng) -> u32 {
        d * DAY + from_h * HOUR + rng.below(u64::from((to_h - from_h) * HOUR)) as u32
    }
}

/// `s` moved back into day `d` if an offset pushed it past midnight.
#[inline]
fn within(s: u32, d: u32) -> u32 {
    s.min(d * DAY + DAY - 1)
}

/// Sequential ids of the event streams; the simulation order makes them deterministic.
#[derive(Debug, Default)]
pub(crate) struct Ids {
    deal: i64,
    ticket: i64,
    survey: i64,
    touchpoint: i64,
    enrollment: i64,
}

impl Ids {
    fn next(counter: &mut i64) -> i64 {
        *counter += 1;
        *counter
    }
    /// The next deal id.
    pub(crate) fn next_deal(&mut self) -> i64 {
        Self::next(&mut self.deal)
    }
    /// The next ticket id.
    pub(crate) fn next_ticket(&mut self) -> i64 {
        Self::next(&mut self.ticket)
    }
    /// The next survey response id.
    pub(crate) fn next_survey(&mut self) -> i64 {
        Self::next(&mut self.survey)
    }
    /// The next touchpoint event id.
    pub(crate) fn next_touchpoint(&mut self) -> i64 {
        Self::next(&mut self.touchpoint)
    }
    /// The next enrolment id.
    pub(crate) fn next_enrollment(&mut self) -> i64 {
        Self::next(&mut self.enrollment)
    }
}

/// Where a customer is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Stage {
    /// Arrived; will come back for consideration on `next_step`.
    Lead,
    /// Considering; will buy on `next_step`.
    WillBuy,
    /// Considering; the deal will be lost on `next_step`.
    WillLose,
    /// Bought; onboarding on `next_step`.
    Purchased,
    /// In the usage cycle.
    Active,
    /// Churned (may still have a ticket to close).
    Churned,
    /// Dropped out of the funnel; never wakes again.
    Gone,
}

/// Category of the customer's latest NPS answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum NpsCategory {
    NoAnswer,
    Detractor,
    Passive,
    Promoter,
}

impl NpsCategory {
    fn of(score: i32) -> Self {
        match score {
            9.. => NpsCategory::Promoter,
            7..=8 => NpsCategory::Passive,
            _ => NpsCategory::Detractor,
        }
    }

    /// Chance of churning at a renewal (planted effect 3).
    fn churn_probability(self) -> f64 {
        match self {
            NpsCategory::Detractor => 0.30,
            NpsCategory::Passive => 0.12,
            NpsCategory::Promoter => 0.04,
            NpsCategory::NoAnswer => 0.10,
        }
    }
}

/// The packed state of one customer. Times are seconds since `start_date` midnight, days
/// are simulation day numbers.
#[derive(Debug, Clone, Copy)]
struct Customer {
    rng: Rng,
    /// Open ticket id, 0 when none.
    ticket: u64,
    created_s: u32,
    /// Deal opened (before purchase), then purchase time (after).
    mark_s: u32,
    /// When the open ticket will be solved (its creation is this minus its solve time).
    ticket_solve_s: u32,
    /// Employee index of the open ticket's assignee.
    assignee: u32,
    /// Employee index of the account owner (sales), or [`NONE`].
    owner: u32,
    /// Day of the next funnel step or usage check-in.
    next_step: u32,
    next_nps: u32,
    renewal: u32,
    /// Personal satisfaction offset (≈ N(0, 1)).
    base: f32,
    /// Running memory of ticket experiences (CSAT latent minus 3.9, exponentially weighted).
    experience: f32,
    /// Position in [`Staff::support_teams`].
    team: u16,
    stage: Stage,
    segment: Segment,
    last_nps: NpsCategory,
}

/// The whole simulated world.
pub(crate) struct Simulation {
    seed: u64,
    customers_total: u32,
    days: u32,
    clock: Clock,
    staff: Staff,
    customers: Vec<Customer>,
    calendar: Vec<Vec<u32>>,
    ids: Ids,
}

/// Runs the simulation over the configured span, feeding every record to `out`. Errors and
/// cancellation are recorded by the emitter.
pub(crate) fn run(settings: &Settings, out: &mut Emitter<'_>) {
    emit_fixed_streams(out);
    let mut sim = Simulation::new(settings);
    let total = u64::from(settings.sim_days);
    for d in 0..settings.sim_days {
        sim.day(d, out);
        out.end_of_day(sim.clock.midnight(d + 1));
        let done = u64::from(d) + 1;
        if done % 7 == 0 || done == total {
            out.progress(done, total);
        }
        if out.is_halted() {
            break;
        }
    }
}

/// The full-refresh streams: the course catalogue and the touchpoint targets.
fn emit_fixed_streams(out: &mut Emitter<'_>) {
    for (i, c) in COURSES.iter().enumerate() {
        out.course(&CourseRow {
            id: i as i64 + 1,
            name: c.name,
            category: c.category,
            duration_hours: c.duration_hours,
            mandatory: c.mandatory,
        });
    }
    let mut id = 0;
    for (s, segment) in Segment::ALL.iter().enumerate() {
        for (touchpoint, metric, targets) in TARGETS {
            id += 1;
            out.target(&TargetRow { id, segment: segment.name(), touchpoint, metric, target: targets[s] });
        }
    }
    out.flush(StreamKind::Courses);
    out.flush(StreamKind::TouchpointTargets);
}

impl Simulation {
    /// The world on `start_date`, before anything happened.
    pub(crate) fn new(settings: &Settings) -> Self {
        // Only the customers arriving before the end of the emitted span are ever created.
        let arriving =
            (u64::from(settings.sim_days) * u64::from(settings.customers)).div_ceil(u64::from(settings.days));
        Simulation {
            seed: settings.seed,
            customers_total: settings.customers,
            days: settings.days,
            clock: Clock::new(settings.start_us),
            staff: Staff::new(settings),
            customers: Vec::with_capacity(arriving.min(u64::from(settings.customers)) as usize),
            calendar: vec![Vec::new(); RING as usize],
            ids: Ids::default(),
        }
    }

    /// The day customer index `i` arrives.
    fn arrival_day(&self, i: u32) -> u32 {
        (u64::from(i) * u64::from(self.days) / u64::from(self.customers_total)) as u32
    }

    /// Simulates day `d`.
    pub(crate) fn day(&mut self, d: u32, out: &mut Emitter<'_>) {
        self.staff.day(d, &mut self.ids, out);
        while (self.customers.len() as u32) < self.customers_total && self.arrival_day(self.customers.len() as u32) == d
        {
            self.arrive(d, out);
        }
        let bucket = std::mem::take(&mut self.calendar[(d % RING) as usize]);
        for &index in &bucket {
            let mut c = self.customers[index as usize];
            self.wake(&mut c, index, d, out);
            self.customers[index as usize] = c;
            if let Some(next) = next_wake(&c) {
                self.schedule(index, d, next);
            }
        }
    }

    fn schedule(&mut self, index: u32, today: u32, day: u32) {
        debug_assert!(day > today && day - today < RING, "wake-up on day {day} scheduled on day {today}");
        // Never lose a customer: an out-of-range day (a bug) is pulled into the ring.
        let day = day.clamp(today + 1, today + RING - 1);
        self.calendar[(day % RING) as usize].push(index);
    }

    fn health(&self, c: &Customer) -> f64 {
        self.staff.teams[self.staff.support_teams[c.team as usize] as usize].health
    }

    fn team_name(&self, c: &Customer) -> &str {
        &self.staff.teams[self.staff.support_teams[c.team as usize] as usize].name
    }

    // -- records --------------------------------------------------------------------------

    fn emit_customer(&self, out: &mut Emitter<'_>, index: u32, c: &Customer, updated_s: u32, churned: bool) {
        let updated_at = self.clock.us(updated_s);
        if !out.wants(StreamKind::Customers, updated_at) {
            return;
        }
        let id = u64::from(index) + 1;
        let who = CustomerIdentity::new(self.seed, id);
        let became = matches!(c.stage, Stage::Purchased | Stage::Active | Stage::Churned);
        out.customer(&CustomerRow {
            id: id as i64,
            first_name: who.first_name,
            last_name: who.last_name,
            domain: who.domain,
            segment: c.segment.name(),
            country: who.country,
            acquisition_channel: ACQUISITION[who.acquisition].0,
            lifecycle_stage: if churned {
                "churned"
            } else if became {
                "customer"
            } else {
                "lead"
            },
            support_team: self.team_name(c),
            created_at: self.clock.us(c.created_s),
            became_customer_at: became.then(|| self.clock.us(c.mark_s)),
            churned_at: churned.then_some(updated_at),
            updated_at,
        });
    }

    #[allow(clippy::too_many_arguments)]
    fn touch(
        &mut self,
        out: &mut Emitter<'_>,
        index: u32,
        stage: &'static str,
        touchpoint: &'static str,
        channel: &'static str,
        employee: Option<u32>,
        s: u32,
    ) {
        out.touchpoint(&TouchpointRow {
            id: self.ids.next_touchpoint(),
            customer_id: i64::from(index) + 1,
            stage,
            touchpoint,
            channel,
            employee_id: employee.map(|e| i64::from(e) + 1),
            occurred_at: self.clock.us(s),
        });
    }

    #[allow(clippy::too_many_arguments)]
    fn answer(
        &mut self,
        out: &mut Emitter<'_>,
        index: u32,
        survey: &'static str,
        (score, scale_min, scale_max): (i32, i32, i32),
        touchpoint: &'static str,
        channel: &'static str,
        ticket_id: Option<u64>,
        s: u32,
    ) {
        out.survey(&SurveyRow {
            id: self.ids.next_survey(),
            respondent_kind: "customer",
            respondent_id: i64::from(index) + 1,
            survey,
            score,
            scale_min,
            scale_max,
            touchpoint,
            channel,
            ticket_id: ticket_id.map(|t| t as i64),
            answered_at: self.clock.us(s),
        });
    }

    #[allow(clippy::too_many_arguments)]
    fn deal(
        &mut self,
        out: &mut Emitter<'_>,
        index: u32,
        owner: u32,
        kind: &'static str,
        won: bool,
        amount: f64,
        created_s: u32,
        closed_s: u32,
    ) {
        out.deal(&DealRow {
            id: self.ids.next_deal(),
            customer_id: i64::from(index) + 1,
            owner_id: i64::from(owner) + 1,
            kind,
            stage: if won { "won" } else { "lost" },
            amount,
            currency: CURRENCY,
            created_at: self.clock.us(created_s),
            closed_at: self.clock.us(closed_s),
        });
    }

    fn fee(&self, index: u32) -> f64 {
        CustomerIdentity::new(self.seed, u64::from(index) + 1).fee
    }

    /// The account owner, re-assigned if they have left.
    fn owner(&self, c: &mut Customer) -> u32 {
        if c.owner == NONE || !self.staff.is_active(c.owner) {
            c.owner = self.staff.pick_in_dept(Department::Sales, &mut c.rng);
        }
        c.owner
    }

    // -- the journey ----------------------------------------------------------------------

    /// A lead arrives (awareness).
    fn arrive(&mut self, d: u32, out: &mut Emitter<'_>) {
        let index = self.customers.len() as u32;
        let id = u64::from(index) + 1;
        let who = CustomerIdentity::new(self.seed, id);
        let mut rng = Rng::derive(self.seed, Domain::Customer, id);
        let created_s = d * DAY + rng.below(u64::from(DAY)) as u32;
        let team = rng.below(self.staff.support_teams.len() as u64) as u16;
        let base = rng.normal() as f32;
        let mut c = Customer {
            rng,
            ticket: 0,
            created_s,
            mark_s: NONE,
            ticket_solve_s: 0,
            assignee: 0,
            owner: NONE,
            next_step: NONE,
            next_nps: NONE,
            renewal: NONE,
            base,
            experience: 0.0,
            team,
            stage: Stage::Lead,
            segment: who.segment,
            last_nps: NpsCategory::NoAnswer,
        };
        self.emit_customer(out, index, &c, created_s, false);
        let (_, touchpoint, channel, _) = ACQUISITION[who.acquisition];
        self.touch(out, index, stage::AWARENESS, touchpoint, channel, None, created_s);
        if c.rng.chance(0.6) {
            c.next_step = d + c.rng.range(1, 14);
        } else {
            c.stage = Stage::Gone;
        }
        self.customers.push(c);
        if let Some(next) = next_wake(&c) {
            self.schedule(index, d, next);
        }
    }

    fn wake(&mut self, c: &mut Customer, index: u32, d: u32, out: &mut Emitter<'_>) {
        match c.stage {
            Stage::Lead => self.consider(c, index, d, out),
            Stage::WillBuy => self.purchase(c, index, d, out),
            Stage::WillLose => self.lose(c, index, d, out),
            Stage::Purchased => self.onboard(c, index, d, out),
            Stage::Active => self.live(c, index, d, out),
            Stage::Churned => {
                if c.ticket != 0 && c.ticket_solve_s / DAY == d {
                    self.solve(c, index, d, out);
                }
            }
            Stage::Gone => {}
        }
    }

    /// Consideration: a website visit, maybe a demo or a webinar; a deal opens.
    fn consider(&mut self, c: &mut Customer, index: u32, d: u32, out: &mut Emitter<'_>) {
        let t1 = self.clock.at(d, 8, 18, &mut c.rng);
        let owner = self.owner(c);
        self.touch(out, index, stage::CONSIDERATION, "website_visit", "web", None, t1);
        let t2 = within(t1 + 10 * MINUTE + c.rng.below(u64::from(3 * HOUR)) as u32, d);
        if c.rng.chance(0.45) {
            self.touch(out, index, stage::CONSIDERATION, "demo", "video_call", Some(owner), t2);
        } else if c.rng.chance(0.5) {
            self.touch(out, index, stage::CONSIDERATION, "webinar", "web", None, t2);
        }
        c.mark_s = t1;
        if c.rng.chance(0.5) {
            c.stage = Stage::WillBuy;
            c.next_step = d + c.rng.range(3, 30);
        } else if c.rng.chance(0.6) {
            c.stage = Stage::WillLose;
            c.next_step = d + c.rng.range(3, 30);
        } else {
            c.stage = Stage::Gone;
        }
    }

    /// Purchase: a sales call, the signed contract, the won deal; sometimes a CES answer.
    fn purchase(&mut self, c: &mut Customer, index: u32, d: u32, out: &mut Emitter<'_>) {
        let owner = self.owner(c);
        let t1 = self.clock.at(d, 8, 17, &mut c.rng);
        let t2 = within(t1 + 15 * MINUTE + c.rng.below(u64::from(3 * HOUR)) as u32, d);
        self.touch(out, index, stage::PURCHASE, "sales_call", "phone", Some(owner), t1);
        self.touch(out, index, stage::PURCHASE, "contract_signed", "email", None, t2);
        // The first invoice: a quarter's fee plus a one-off onboarding fee of half a quarter.
        let amount = self.fee(index) * 1.5;
        self.deal(out, index, owner, "new", true, amount, c.mark_s, t2);
        c.mark_s = t2;
        c.stage = Stage::Purchased;
        self.emit_customer(out, index, c, t2, false);
        if c.rng.chance(0.35) {
            let latent = 3.0 - 0.5 * f64::from(c.base) + c.rng.normal();
            let at = within(t2 + 10 * MINUTE + c.rng.below(u64::from(2 * HOUR)) as u32, d);
            self.answer(out, index, "ces", (score(latent, 1, 7), 1, 7), "contract_signed", "email", None, at);
        }
        c.next_step = d + c.rng.range(1, 7);
    }

    /// A lost opportunity: the deal closes as lost and the lead is gone.
    fn lose(&mut self, c: &mut Customer, index: u32, d: u32, out: &mut Emitter<'_>) {
        let owner = self.owner(c);
        let t = self.clock.at(d, 9, 18, &mut c.rng);
        let amount = self.fee(index) * 1.5;
        self.deal(out, index, owner, "new", false, amount, c.mark_s, t);
        c.stage = Stage::Gone;
    }

    /// Onboarding session with Customer Success; sometimes a CSAT answer. Starts the usage
    /// cycle: check-ins, quarterly NPS, quarterly renewals counted from the purchase day.
    fn onboard(&mut self, c: &mut Customer, index: u32, d: u32, out: &mut Emitter<'_>) {
        let csm = self.staff.pick_in_dept(Department::CustomerSuccess, &mut c.rng);
        let t = self.clock.at(d, 9, 16, &mut c.rng);
        self.touch(out, index, stage::ONBOARDING, "onboarding_session", "video_call", Some(csm), t);
        if c.rng.chance(0.45) {
            let latent = 4.0 + 0.3 * self.health(c) + 0.3 * f64::from(c.base) + 0.7 * c.rng.normal();
            let at = within(t + HOUR + c.rng.below(u64::from(3 * HOUR)) as u32, d);
            self.answer(out, index, "csat", (score(latent, 1, 5), 1, 5), "onboarding_session", "video_call", None, at);
        }
        c.stage = Stage::Active;
        c.renewal = c.mark_s / DAY + QUARTER;
        c.next_nps = d + c.rng.range(30, 60);
        c.next_step = d + c.rng.range(2, 10);
    }

    /// A day in the usage cycle: solve a due ticket, check in, answer NPS, renew or churn.
    fn live(&mut self, c: &mut Customer, index: u32, d: u32, out: &mut Emitter<'_>) {
        if c.ticket != 0 && c.ticket_solve_s / DAY == d {
            self.solve(c, index, d, out);
        }
        if c.next_step == d {
            self.check_in(c, index, d, out);
        }
        if c.next_nps == d {
            self.nps(c, index, d, out);
            c.next_nps = d + QUARTER;
        }
        if c.renewal == d {
            self.renew(c, index, d, out);
        }
    }

    /// Product usage, sometimes a newsletter, sometimes a new ticket.
    fn check_in(&mut self, c: &mut Customer, index: u32, d: u32, out: &mut Emitter<'_>) {
        let t = self.clock.at(d, 7, 12, &mut c.rng);
        self.touch(out, index, stage::USAGE, "product_usage", "app", None, t);
        if c.rng.chance(0.25) {
            let at = self.clock.at(d, 6, 7, &mut c.rng);
            self.touch(out, index, stage::USAGE, "newsletter", "email", None, at);
        }
        // Customers with bad ticket experiences come back with more problems.
        let rate = c.segment.ticket_rate() * (1.0 + 0.3 * f64::from((-c.experience).max(0.0)));
        if c.ticket == 0 && c.rng.chance(rate) {
            let at = within(t + 5 * MINUTE + c.rng.below(u64::from(2 * HOUR)) as u32, d);
            self.open_ticket(c, index, d, at, out);
        }
        c.next_step = d + c.rng.range(5, 14);
    }

    /// Opens a ticket, assigned to an active agent of the customer's support team.
    fn open_ticket(&mut self, c: &mut Customer, index: u32, d: u32, at: u32, out: &mut Emitter<'_>) {
        let id = self.ids.next_ticket();
        let facts = TicketFacts::new(self.seed, id as u64);
        let team = self.staff.support_teams[c.team as usize];
        c.assignee = self.staff.pick_in_team(team, &mut c.rng);
        c.ticket = id as u64;
        c.ticket_solve_s = at + facts.solve_s;
        out.ticket(&TicketRow {
            id,
            customer_id: i64::from(index) + 1,
            assignee_id: i64::from(c.assignee) + 1,
            channel: facts.channel,
            priority: facts.priority,
            subject: facts.subject,
            status: "open",
            created_at: self.clock.us(at),
            first_response_at: None,
            solved_at: None,
            reopened: false,
            updated_at: self.clock.us(at),
        });
        self.touch(out, index, stage::SUPPORT, "support_ticket", facts.channel, Some(c.assignee), at);
        if c.ticket_solve_s / DAY == d {
            self.solve(c, index, d, out);
        }
    }

    /// Solves the open ticket. Its CSAT rises with the courses the assignee had completed
    /// before the solve (planted effect 1) and with the team's health (effect 2).
    fn solve(&mut self, c: &mut Customer, index: u32, d: u32, out: &mut Emitter<'_>) {
        let facts = TicketFacts::new(self.seed, c.ticket);
        if !self.staff.is_active(c.assignee) {
            let team = self.staff.support_teams[c.team as usize];
            c.assignee = self.staff.pick_in_team(team, &mut c.rng);
        }
        let solved = c.ticket_solve_s;
        let created = solved - facts.solve_s;
        let trained = f64::from(self.staff.completed_before(c.assignee, self.clock.us(solved)).min(5));
        let health = self.health(c);
        let reopened = c.rng.chance(0.12 - 0.015 * trained);
        out.ticket(&TicketRow {
            id: c.ticket as i64,
            customer_id: i64::from(index) + 1,
            assignee_id: i64::from(c.assignee) + 1,
            channel: facts.channel,
            priority: facts.priority,
            subject: facts.subject,
            status: "solved",
            created_at: self.clock.us(created),
            first_response_at: Some(self.clock.us(created + facts.first_response_s)),
            solved_at: Some(self.clock.us(solved)),
            reopened,
            updated_at: self.clock.us(solved),
        });
        let penalty = if reopened { 1.0 } else { 0.0 };
        let csat = 3.3 + 0.3 * trained + 0.3 * health + 0.2 * f64::from(c.base) - 0.8 * penalty + 0.7 * c.rng.normal();
        if c.rng.chance(0.4) {
            let at = within(solved + 5 * MINUTE + c.rng.below(u64::from(3 * HOUR)) as u32, d);
            let answer = (score(csat, 1, 5), 1, 5);
            self.answer(out, index, "csat", answer, "support_ticket", facts.channel, Some(c.ticket), at);
        }
        if c.rng.chance(0.2) {
            let ces = 3.5 - 0.3 * trained - 0.3 * health + 1.2 * penalty + c.rng.normal();
            let at = within(solved + 5 * MINUTE + c.rng.below(u64::from(3 * HOUR)) as u32, d);
            let answer = (score(ces, 1, 7), 1, 7);
            self.answer(out, index, "ces", answer, "support_ticket", facts.channel, Some(c.ticket), at);
        }
        c.experience = 0.6 * c.experience + 0.4 * (csat - 3.9) as f32;
        c.ticket = 0;
    }

    /// The quarterly relationship NPS. It rises with the health of the customer's support
    /// team (planted effect 2) and their ticket experiences; promoters sometimes advocate.
    fn nps(&mut self, c: &mut Customer, index: u32, d: u32, out: &mut Emitter<'_>) {
        let t = self.clock.at(d, 12, 16, &mut c.rng);
        if !c.rng.chance(0.55) {
            return;
        }
        let latent = 8.0 + 1.1 * self.health(c) + f64::from(c.base) + 0.8 * f64::from(c.experience) + c.rng.normal();
        let value = score(latent, 0, 10);
        c.last_nps = NpsCategory::of(value);
        self.answer(out, index, "nps", (value, 0, 10), NPS_TOUCHPOINT, "email", None, t);
        if c.last_nps == NpsCategory::Promoter && c.rng.chance(0.3) {
            let at = within(t + HOUR + c.rng.below(u64::from(5 * HOUR)) as u32, d);
            if c.rng.chance(0.5) {
                self.touch(out, index, stage::ADVOCACY, "review", "web", None, at);
            } else {
                self.touch(out, index, stage::ADVOCACY, "referral_given", "word_of_mouth", None, at);
            }
        }
    }

    /// The quarterly renewal call; the customer churns with a probability set by their last
    /// NPS category (planted effect 3), otherwise a renewal deal brings a quarter's fee.
    fn renew(&mut self, c: &mut Customer, index: u32, d: u32, out: &mut Emitter<'_>) {
        let owner = self.owner(c);
        let t = self.clock.at(d, 16, 20, &mut c.rng);
        self.touch(out, index, stage::RENEWAL, "renewal_call", "phone", Some(owner), t);
        let fee = self.fee(index);
        let opened = t.saturating_sub(14 * DAY);
        if c.rng.chance(c.last_nps.churn_probability()) {
            self.deal(out, index, owner, "renewal", false, fee, opened, t);
            c.stage = Stage::Churned;
            let at = within(t + 30 * MINUTE, d);
            self.emit_customer(out, index, c, at, true);
        } else {
            self.deal(out, index, owner, "renewal", true, fee, opened, t);
            c.renewal = d + QUARTER;
        }
    }
}

/// A latent score rounded onto a survey scale.
fn score(latent: f64, min: i32, max: i32) -> i32 {
    latent.round().clamp(f64::from(min), f64::from(max)) as i32
}

/// The customer's next wake-up day, if any.
fn next_wake(c: &Customer) -> Option<u32> {
    let ticket_day = if c.ticket != 0 { c.ticket_solve_s / DAY } else { NONE };
    let day = match c.stage {
        Stage::Lead | Stage::WillBuy | Stage::WillLose | Stage::Purchased => c.next_step,
        Stage::Active => c.next_step.min(c.next_nps).min(c.renewal).min(ticket_day),
        Stage::Churned => ticket_day,
        Stage::Gone => NONE,
    };
    (day != NONE).then_some(day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customer_state_stays_small() {
        assert!(std::mem::size_of::<Customer>() <= 64, "{}", std::mem::size_of::<Customer>());
    }

    #[test]
    fn nps_categories_follow_the_standard_cut_offs() {
        assert_eq!(NpsCategory::of(10), NpsCategory::Promoter);
        assert_eq!(NpsCategory::of(9), NpsCategory::Promoter);
        assert_eq!(NpsCategory::of(8), NpsCategory::Passive);
        assert_eq!(NpsCategory::of(7), NpsCategory::Passive);
        assert_eq!(NpsCategory::of(6), NpsCategory::Detractor);
        assert_eq!(NpsCategory::of(0), NpsCategory::Detractor);
        assert_eq!(score(11.3, 0, 10), 10);
        assert_eq!(score(-2.0, 1, 5), 1);
        assert_eq!(score(3.5, 1, 7), 4);
    }

    #[test]
    fn arrivals_spread_over_the_horizon_regardless_of_the_end() {
        let config =
            crate::SampleConfig { customers: 10, days: 5, end_date: Some("2025-03-01".into()), ..Default::default() };
        let sim = Simulation::new(&config.settings().unwrap());
        let days: Vec<u32> = (0..10).map(|i| sim.arrival_day(i)).collect();
        assert_eq!(days, vec![0, 0, 1, 1, 2, 2, 3, 3, 4, 4]);
        assert!(sim.staff.len() == 200);
    }
}
