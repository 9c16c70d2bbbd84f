//! The organisation and the day-by-day life of its staff.
//!
//! At the start the head count is split into departments (Support about half), each with a
//! head and teams of about eight under a team lead. Every team has a latent *health*
//! `h ∈ [-1, 1]` that drives its members' eNPS answers and attrition and — for Support
//! teams — the NPS of the customers the team serves (planted effect 2).
//!
//! Each day, in this order: replacements due today are hired into the team of the person
//! they replace (heads, then leads, then members, so managers exist before their reports);
//! a quarterly eNPS campaign may start; then every active employee may leave (monthly
//! attrition), finish or drop a course, enrol in a new one (driven by a personal training
//! propensity), and answer the eNPS survey. Nobody leaves while they are the last active
//! member of their team, so every team can always take work.

use crate::config::Settings;
use crate::emit::Emitter;
use crate::rng::{Domain, Rng};
use crate::simulation::{Clock, HOUR, Ids, NONE, QUARTER};
use crate::streams::{EmployeeRow, EnrollmentRow, StreamKind, SurveyRow};
use crate::world::{COURSES, CURRENCY, Department, ENPS_TOUCHPOINT, EmployeeIdentity, Role, TEAM_SIZE};

/// An open course enrolment.
#[derive(Debug, Clone, Copy)]
struct Enrollment {
    id: i64,
    course: u8,
    enrolled_us: i64,
    /// The day it ends, completed or dropped.
    due_day: u32,
    completes: bool,
}

/// One employee.
#[derive(Debug, Clone)]
pub(crate) struct Employee {
    dept: Department,
    role: Role,
    team: u16,
    manager: Option<u32>,
    hired_us: i64,
    terminated_us: Option<i64>,
    annual_cost: f64,
    /// Training propensity in [0, 1]; drives how often they enrol.
    propensity: f64,
    /// Personal engagement (≈ N(0, 1)); shifts their eNPS and attrition.
    engagement: f64,
    /// Courses completed so far.
    completed: u8,
    /// When the latest course was completed.
    last_completed_us: i64,
    /// Completed courses as a bit set over [`COURSES`].
    done_mask: u16,
    enrollment: Option<Enrollment>,
    /// The day they will answer the running eNPS campaign, or [`NONE`].
    enps_day: u32,
}

/// A team: the unit of eNPS and, in Support, of customer service.
#[derive(Debug, Clone)]
pub(crate) struct Team {
    pub name: String,
    pub dept: Department,
    /// Latent team health in [-1, 1].
    pub health: f64,
    /// The current team lead (possibly departed and not yet replaced).
    lead: Option<u32>,
    /// Active members (including the lead, and the head in a department's first team).
    active: Vec<u32>,
    /// Active members with the `Member` role: who takes tickets in Support.
    members: Vec<u32>,
}

/// A hire scheduled to replace a leaver.
#[derive(Debug, Clone, Copy)]
struct PendingHire {
    day: u32,
    team: u16,
    role: Role,
    replaces: u32,
}

/// Everyone who works here, and their teams.
#[derive(Debug)]
pub(crate) struct Staff {
    seed: u64,
    clock: Clock,
    employees: Vec<Employee>,
    pub teams: Vec<Team>,
    /// Team indices of the Support department; customers are served by one of them.
    pub support_teams: Vec<u16>,
    dept_active: [Vec<u32>; 6],
    dept_head: [Option<u32>; 6],
    pending: Vec<PendingHire>,
    rng: Rng,
}

impl Staff {
    /// The organisation on `start_date`.
    pub(crate) fn new(settings: &Settings) -> Staff {
        let mut org = Rng::derive(settings.seed, Domain::Organisation, 0);
        let mut staff = Staff {
            seed: settings.seed,
            clock: Clock::new(settings.start_us),
            employees: Vec::with_capacity(settings.employees as usize),
            teams: Vec::new(),
            support_teams: Vec::new(),
            dept_active: Default::default(),
            dept_head: [None; 6],
            pending: Vec::new(),
            rng: Rng::derive(settings.seed, Domain::Staff, 0),
        };
        let sizes = Department::sizes(settings.employees);
        for (di, &dept) in Department::ALL.iter().enumerate() {
            let members = sizes[di] - 1; // everyone but the head
            let n_teams = if members == 0 { 1 } else { ((members + TEAM_SIZE / 2) / TEAM_SIZE).max(1) };
            let first = staff.teams.len() as u16;
            for t in 0..n_teams {
                let name = if n_teams == 1 { dept.name().to_string() } else { format!("{} {:02}", dept.name(), t + 1) };
                let health = org.unit() * 2.0 - 1.0;
                staff.teams.push(Team { name, dept, health, lead: None, active: Vec::new(), members: Vec::new() });
                if dept == Department::Support {
                    staff.support_teams.push(first + t as u16);
                }
            }
            let past = |org: &mut Rng| settings.start_us - i64::from(30 + org.range(0, 8 * 365)) * 86_400_000_000;
            let hired = past(&mut org);
            let head = staff.add(dept, Role::Head, first, None, hired);
            staff.dept_head[di] = Some(head);
            for k in 0..members {
                let team = first + (k % n_teams) as u16;
                let hired = past(&mut org);
                if k < n_teams {
                    let lead = staff.add(dept, Role::Lead, team, Some(head), hired);
                    staff.teams[team as usize].lead = Some(lead);
                } else {
                    let manager = staff.teams[team as usize].lead;
                    staff.add(dept, Role::Member, team, manager, hired);
                }
            }
        }
        staff
    }

    /// Adds an active employee and returns their index.
    fn add(&mut self, dept: Department, role: Role, team: u16, manager: Option<u32>, hired_us: i64) -> u32 {
        let index = self.employees.len() as u32;
        let mut rng = Rng::derive(self.seed, Domain::EmployeeIdentity, u64::from(index) + 1);
        // The first two draws of this stream are the name (see `EmployeeIdentity`); skip them
        // so that cost and propensity are independent of the name.
        rng.next_u64();
        rng.next_u64();
        let cost = dept.annual_cost(role) * (0.9 + 0.25 * rng.unit());
        let u = rng.unit();
        self.employees.push(Employee {
            dept,
            role,
            team,
            manager,
            hired_us,
            terminated_us: None,
            annual_cost: (cost / 100.0).round() * 100.0,
            propensity: u * u,
            engagement: rng.normal(),
            completed: 0,
            last_completed_us: i64::MIN,
            done_mask: 0,
            enrollment: None,
            enps_day: NONE,
        });
        let t = &mut self.teams[team as usize];
        t.active.push(index);
        if role == Role::Member {
            t.members.push(index);
        }
        self.dept_active[dept as usize].push(index);
        index
    }

    /// Whether the employee still works here.
    pub(crate) fn is_active(&self, index: u32) -> bool {
        self.employees.get(index as usize).is_some_and(|e| e.terminated_us.is_none())
    }

    /// A random active member of the team (the lead or head if no member is active).
    pub(crate) fn pick_in_team(&self, team: u16, rng: &mut Rng) -> u32 {
        let t = &self.teams[team as usize];
        rng.pick(&t.members).or_else(|| rng.pick(&t.active)).copied().or(t.lead).unwrap_or(0)
    }

    /// A random active employee of the department.
    pub(crate) fn pick_in_dept(&self, dept: Department, rng: &mut Rng) -> u32 {
        rng.pick(&self.dept_active[dept as usize]).copied().or(self.dept_head[dept as usize]).unwrap_or(0)
    }

    /// Courses the employee had completed strictly before `at_us`.
    pub(crate) fn completed_before(&self, index: u32, at_us: i64) -> u32 {
        self.employees.get(index as usize).map_or(0, |e| {
            // At most one course completes per day, and only today's can be after `at_us`.
            u32::from(e.completed) - u32::from(e.completed > 0 && e.last_completed_us >= at_us)
        })
    }

    /// Number of employees ever on staff.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.employees.len()
    }

    fn row(&self, index: u32, updated_us: i64) -> EmployeeRow<'_> {
        let e = &self.employees[index as usize];
        let id = EmployeeIdentity::new(self.seed, u64::from(index) + 1);
        EmployeeRow {
            id: i64::from(index) + 1,
            first_name: id.first_name,
            last_name: id.last_name,
            department: e.dept.name(),
            team: &self.teams[e.team as usize].name,
            role: e.dept.title(e.role),
            manager_id: e.manager.map(|m| i64::from(m) + 1),
            hired_at: e.hired_us,
            terminated_at: e.terminated_us,
            annual_cost: e.annual_cost,
            currency: CURRENCY,
            updated_at: updated_us,
        }
    }

    fn emit_row(&self, index: u32, updated_us: i64, out: &mut Emitter<'_>) {
        if out.wants(StreamKind::Employees, updated_us) {
            out.employee(&self.row(index, updated_us));
        }
    }

    /// One simulated day of staff life (see the module docs).
    pub(crate) fn day(&mut self, d: u32, ids: &mut Ids, out: &mut Emitter<'_>) {
        let midnight = self.clock.midnight(d);
        if d == 0 {
            for index in 0..self.employees.len() as u32 {
                self.emit_row(index, midnight, out);
            }
        }
        self.hire_due(d, out);

        if d % QUARTER == 45 {
            for e in self.employees.iter_mut().filter(|e| e.terminated_us.is_none()) {
                if e.enps_day == NONE && self.rng.chance(0.75) {
                    e.enps_day = d + self.rng.range(0, 9);
                }
            }
        }

        for index in 0..self.employees.len() as u32 {
            let e = &self.employees[index as usize];
            if e.terminated_us.is_some() {
                continue;
            }
            if e.hired_us < midnight && self.leaves_today(index) {
                self.terminate(index, d, out);
                continue;
            }
            self.train(index, d, ids, out);
            self.answer_enps(index, d, ids, out);
        }
    }

    /// Monthly attrition, as a daily hazard: higher in Support and Sales, lower for leads
    /// and heads, higher in unhealthy teams and for disengaged people.
    fn leaves_today(&mut self, index: u32) -> bool {
        let e = &self.employees[index as usize];
        let team = &self.teams[e.team as usize];
        if team.active.len() <= 1 {
            return false;
        }
        let role_factor = match e.role {
            Role::Head => 0.25,
            Role::Lead => 0.5,
            Role::Member => 1.0,
        };
        let monthly = e.dept.monthly_attrition()
            * role_factor
            * (1.0 - 0.5 * team.health)
            * (1.0 - 0.25 * e.engagement).clamp(0.4, 1.8);
        self.rng.chance(monthly / 30.44)
    }

    fn terminate(&mut self, index: u32, d: u32, out: &mut Emitter<'_>) {
        let midnight = self.clock.midnight(d);
        // HR records the leaver at the end of their last day.
        let recorded = midnight + i64::from(18 * HOUR) * 1_000_000;
        let e = &mut self.employees[index as usize];
        e.terminated_us = Some(midnight);
        e.enps_day = NONE;
        let (dept, team, role) = (e.dept, e.team, e.role);
        if let Some(en) = e.enrollment.take() {
            let id = i64::from(index) + 1;
            out.enrollment(&EnrollmentRow {
                id: en.id,
                employee_id: id,
                course_id: i64::from(en.course) + 1,
                status: "dropped",
                enrolled_at: en.enrolled_us,
                completed_at: None,
                score: None,
                updated_at: recorded,
            });
        }
        let t = &mut self.teams[team as usize];
        t.active.retain(|&i| i != index);
        t.members.retain(|&i| i != index);
        self.dept_active[dept as usize].retain(|&i| i != index);
        self.emit_row(index, recorded, out);
        let day = d + self.rng.range(14, 60);
        self.pending.push(PendingHire { day, team, role, replaces: index });
    }

    fn hire_due(&mut self, d: u32, out: &mut Emitter<'_>) {
        if !self.pending.iter().any(|h| h.day == d) {
            return;
        }
        let mut due: Vec<PendingHire> = Vec::new();
        self.pending.retain(|h| {
            if h.day == d {
                due.push(*h);
                false
            } else {
                true
            }
        });
        // Managers first, so that reports hired the same day get the new manager.
        due.sort_by_key(|h| h.role);
        let midnight = self.clock.midnight(d);
        let recorded = midnight + i64::from(8 * HOUR) * 1_000_000;
        for hire in due {
            let team = hire.team;
            let dept = self.teams[team as usize].dept;
            let manager = match hire.role {
                Role::Head => None,
                Role::Lead => self.dept_head[dept as usize],
                Role::Member => self.teams[team as usize].lead,
            };
            let index = self.add(dept, hire.role, team, manager, midnight);
            self.emit_row(index, recorded, out);
            // Reports of the person replaced now report to the newcomer.
            let reports: Vec<u32> = match hire.role {
                Role::Member => Vec::new(),
                Role::Lead => {
                    self.teams[team as usize].lead = Some(index);
                    self.teams[team as usize].active.clone()
                }
                Role::Head => {
                    self.dept_head[dept as usize] = Some(index);
                    self.teams.iter().filter(|t| t.dept == dept).filter_map(|t| t.lead).collect()
                }
            };
            for report in reports {
                let e = &mut self.employees[report as usize];
                if report != index && e.terminated_us.is_none() && e.manager == Some(hire.replaces) {
                    e.manager = Some(index);
                    self.emit_row(report, recorded, out);
                }
            }
        }
    }

    /// Finishes a course that is due, or maybe enrols in a new one.
    fn train(&mut self, index: u32, d: u32, ids: &mut Ids, out: &mut Emitter<'_>) {
        let midnight = self.clock.midnight(d);
        let employee_id = i64::from(index) + 1;
        let e = &mut self.employees[index as usize];
        match e.enrollment {
            Some(en) if en.due_day == d => {
                let at = midnight + i64::from(9 * HOUR + self.rng.below(u64::from(8 * HOUR)) as u32) * 1_000_000;
                e.enrollment = None;
                let (status, completed_at, score) = if en.completes {
                    e.completed += 1;
                    e.last_completed_us = at;
                    e.done_mask |= 1 << en.course;
                    let score = (72.0 + 18.0 * e.propensity + 8.0 * self.rng.normal()).clamp(40.0, 100.0);
                    ("completed", Some(at), Some((score * 10.0).round() / 10.0))
                } else {
                    ("dropped", None, None)
                };
                out.enrollment(&EnrollmentRow {
                    id: en.id,
                    employee_id,
                    course_id: i64::from(en.course) + 1,
                    status,
                    enrolled_at: en.enrolled_us,
                    completed_at,
                    score,
                    updated_at: at,
                });
            }
            Some(_) => {}
            None => {
                let new_hire = midnight - e.hired_us < 30 * 86_400_000_000;
                let rate = 0.004 + 0.03 * e.propensity + if new_hire { 0.05 } else { 0.0 };
                if !self.rng.chance(rate) {
                    return;
                }
                // Mandatory courses first (mostly), then anything not yet completed.
                let mut open = [0u8; 12];
                let mut n_open = 0;
                let mut mandatory = [0u8; 12];
                let mut n_mandatory = 0;
                for (c, course) in COURSES.iter().enumerate() {
                    if e.done_mask & (1 << c) == 0 {
                        open[n_open] = c as u8;
                        n_open += 1;
                        if course.mandatory {
                            mandatory[n_mandatory] = c as u8;
                            n_mandatory += 1;
                        }
                    }
                }
                let choice = if n_mandatory > 0 && self.rng.chance(0.7) {
                    self.rng.pick(&mandatory[..n_mandatory])
                } else {
                    self.rng.pick(&open[..n_open])
                };
                let Some(&course) = choice else { return };
                let hours = COURSES[course as usize].duration_hours as u32;
                let at = midnight + i64::from(9 * HOUR + self.rng.below(u64::from(8 * HOUR)) as u32) * 1_000_000;
                let en = Enrollment {
                    id: ids.next_enrollment(),
                    course,
                    enrolled_us: at,
                    due_day: d + 1 + hours / 2 + self.rng.range(0, 7),
                    completes: self.rng.chance(0.65 + 0.3 * e.propensity),
                };
                e.enrollment = Some(en);
                out.enrollment(&EnrollmentRow {
                    id: en.id,
                    employee_id,
                    course_id: i64::from(course) + 1,
                    status: "enrolled",
                    enrolled_at: at,
                    completed_at: None,
                    score: None,
                    updated_at: at,
                });
            }
        }
    }

    /// Answers the quarterly eNPS survey on the chosen day. The answer rises with the team's
    /// health (planted effect 2) and the person's engagement.
    fn answer_enps(&mut self, index: u32, d: u32, ids: &mut Ids, out: &mut Emitter<'_>) {
        let e = &self.employees[index as usize];
        if e.enps_day != d {
            return;
        }
        let health = self.teams[e.team as usize].health;
        let latent = 7.6 + 2.0 * health + e.engagement + self.rng.normal();
        let at = self.clock.at(d, 9, 18, &mut self.rng);
        self.employees[index as usize].enps_day = NONE;
        out.survey(&SurveyRow {
            id: ids.next_survey(),
            respondent_kind: "employee",
            respondent_id: i64::from(index) + 1,
            survey: "enps",
            score: latent.round().clamp(0.0, 10.0) as i32,
            scale_min: 0,
            scale_max: 10,
            touchpoint: ENPS_TOUCHPOINT,
            channel: "web",
            ticket_id: None,
            answered_at: self.clock.us(at),
        });
    }
}
