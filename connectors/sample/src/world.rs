//! The fixed shape of the generated world: customer segments and acquisition channels, the
//! journey vocabulary (stages, touchpoints, channels), ticket attributes, departments and
//! roles, the training catalogue, the touchpoint targets, and the per-entity attributes that
//! are derived from `(seed, id)` instead of stored ([`CustomerIdentity`], [`TicketFacts`],
//! [`EmployeeIdentity`]).

use crate::names;
use crate::rng::{Domain, Rng};

/// Currency of every amount (deals and employee cost).
pub(crate) const CURRENCY: &str = "USD";

// ---------------------------------------------------------------------------------------
// customers

/// Customer segment; drives deal size and ticket frequency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Segment {
    Smb = 0,
    MidMarket = 1,
    Enterprise = 2,
}

impl Segment {
    /// Every segment.
    pub(crate) const ALL: [Segment; 3] = [Segment::Smb, Segment::MidMarket, Segment::Enterprise];

    /// Column value.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Segment::Smb => "smb",
            Segment::MidMarket => "mid_market",
            Segment::Enterprise => "enterprise",
        }
    }

    /// Median quarterly subscription fee.
    fn quarterly_fee(self) -> f64 {
        match self {
            Segment::Smb => 1_500.0,
            Segment::MidMarket => 8_000.0,
            Segment::Enterprise => 40_000.0,
        }
    }

    /// Chance that a usage check-in raises a ticket.
    pub(crate) fn ticket_rate(self) -> f64 {
        match self {
            Segment::Smb => 0.16,
            Segment::MidMarket => 0.22,
            Segment::Enterprise => 0.30,
        }
    }
}

/// How a lead found us, with the awareness touchpoint and channel it produces.
pub(crate) const ACQUISITION: &[(&str, &str, &str, u32)] = &[
    // (acquisition_channel, awareness touchpoint, touchpoint channel, weight)
    ("paid_social", "ad", "social", 25),
    ("paid_search", "ad", "search", 30),
    ("referral", "referral", "word_of_mouth", 20),
    ("content", "content", "web", 25),
];

/// The attributes of a customer that never change, derived from `(seed, id)`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CustomerIdentity {
    pub first_name: &'static str,
    pub last_name: &'static str,
    pub domain: &'static str,
    pub country: &'static str,
    /// Index into [`ACQUISITION`].
    pub acquisition: usize,
    pub segment: Segment,
    /// Quarterly subscription fee.
    pub fee: f64,
}

impl CustomerIdentity {
    /// The identity of customer `id`.
    pub(crate) fn new(seed: u64, id: u64) -> Self {
        let mut rng = Rng::derive(seed, Domain::CustomerIdentity, id);
        let first_name = rng.pick(names::FIRST_NAMES).copied().unwrap_or("Alex");
        let last_name = rng.pick(names::LAST_NAMES).copied().unwrap_or("Doe");
        let domain = rng.pick(names::CUSTOMER_DOMAINS).copied().unwrap_or("example.com");
        let country = names::COUNTRIES[weighted_index(&mut rng, names::COUNTRIES.iter().map(|c| c.1))].0;
        let acquisition = weighted_index(&mut rng, ACQUISITION.iter().map(|a| a.3));
        let segment = Segment::ALL[rng.weighted(&[60, 30, 10])];
        // Fee between half and one and a half times the segment median, rounded to 10.
        let fee = (segment.quarterly_fee() * (0.5 + rng.unit()) / 10.0).round() * 10.0;
        CustomerIdentity { first_name, last_name, domain, country, acquisition, segment, fee }
    }
}

/// A weighted draw over an iterator of weights, without allocating.
fn weighted_index(rng: &mut Rng, weights: impl Iterator<Item = u32> + Clone) -> usize {
    let total: u64 = weights.clone().map(u64::from).sum();
    let mut pick = rng.below(total);
    let mut last = 0;
    for (i, w) in weights.enumerate() {
        last = i;
        if pick < u64::from(w) {
            return i;
        }
        pick -= u64::from(w);
    }
    last
}

// ---------------------------------------------------------------------------------------
// journey

/// Journey stages, in order.
pub(crate) const STAGES: [&str; 8] =
    ["awareness", "consideration", "purchase", "onboarding", "usage", "support", "renewal", "advocacy"];

/// Stage names by role, so the simulation reads well.
pub(crate) mod stage {
    pub(crate) const AWARENESS: &str = super::STAGES[0];
    pub(crate) const CONSIDERATION: &str = super::STAGES[1];
    pub(crate) const PURCHASE: &str = super::STAGES[2];
    pub(crate) const ONBOARDING: &str = super::STAGES[3];
    pub(crate) const USAGE: &str = super::STAGES[4];
    pub(crate) const SUPPORT: &str = super::STAGES[5];
    pub(crate) const RENEWAL: &str = super::STAGES[6];
    pub(crate) const ADVOCACY: &str = super::STAGES[7];
}

/// Touchpoint used for the quarterly relationship NPS survey (a usage-stage touchpoint).
pub(crate) const NPS_TOUCHPOINT: &str = "product_usage";
/// Touchpoint recorded on employee eNPS answers.
pub(crate) const ENPS_TOUCHPOINT: &str = "employee_pulse";

// ---------------------------------------------------------------------------------------
// tickets

/// Ticket channels with relative weights.
pub(crate) const TICKET_CHANNELS: [(&str, u32); 4] = [("email", 40), ("chat", 30), ("phone", 15), ("web", 15)];
/// Ticket priorities with relative weights.
pub(crate) const PRIORITIES: [(&str, u32); 4] = [("low", 25), ("normal", 50), ("high", 20), ("urgent", 5)];

/// The attributes of a ticket that are fixed when it is opened, derived from
/// `(seed, ticket id)` so an open ticket costs only its id in the customer's state.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TicketFacts {
    pub channel: &'static str,
    pub priority: &'static str,
    pub subject: &'static str,
    /// Seconds from creation to the first agent response.
    pub first_response_s: u32,
    /// Seconds from creation to the solve (always more than `first_response_s`).
    pub solve_s: u32,
}

impl TicketFacts {
    /// The facts of ticket `id`.
    pub(crate) fn new(seed: u64, id: u64) -> Self {
        let mut rng = Rng::derive(seed, Domain::Ticket, id);
        let c = weighted_index(&mut rng, TICKET_CHANNELS.iter().map(|c| c.1));
        let p = weighted_index(&mut rng, PRIORITIES.iter().map(|p| p.1));
        let subject = rng.pick(names::TICKET_SUBJECTS).copied().unwrap_or("Question");
        // Typical time to solve by priority (hours); chat and phone are quicker.
        let (lo_h, hi_h) = [(8, 168), (4, 96), (2, 48), (1, 16)][p];
        let speed = match TICKET_CHANNELS[c].0 {
            "chat" | "phone" => 0.5,
            _ => 1.0,
        };
        let span = f64::from(hi_h - lo_h) * rng.unit() * rng.unit(); // skewed towards quick solves
        let solve_s = ((f64::from(lo_h) + span) * 3600.0 * speed) as u32 + 600;
        let max_first = match TICKET_CHANNELS[c].0 {
            "chat" => 300,
            "phone" => 120,
            _ => 8 * 3600,
        };
        let first_response_s = (30 + rng.below(max_first) as u32).min(solve_s / 2);
        TicketFacts { channel: TICKET_CHANNELS[c].0, priority: PRIORITIES[p].0, subject, first_response_s, solve_s }
    }
}

// ---------------------------------------------------------------------------------------
// staff

/// A department, with its share of head count and its roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Department {
    Support = 0,
    Sales = 1,
    CustomerSuccess = 2,
    Marketing = 3,
    Product = 4,
    Hr = 5,
}

/// Seniority within a department.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub(crate) enum Role {
    /// Runs the department; no manager.
    Head = 0,
    /// Leads a team; managed by the head.
    Lead = 1,
    /// A team member; managed by the team lead.
    Member = 2,
}

impl Department {
    /// Every department; `Support` first (it gets the remainder of the head count).
    pub(crate) const ALL: [Department; 6] = [
        Department::Support,
        Department::Sales,
        Department::CustomerSuccess,
        Department::Marketing,
        Department::Product,
        Department::Hr,
    ];

    /// Column value.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Department::Support => "Support",
            Department::Sales => "Sales",
            Department::CustomerSuccess => "Customer Success",
            Department::Marketing => "Marketing",
            Department::Product => "Product",
            Department::Hr => "HR",
        }
    }

    /// Share of head count in percent (`Support` takes what the others leave, about half).
    fn share_percent(self) -> u32 {
        match self {
            Department::Support => 0,
            Department::Sales => 15,
            Department::CustomerSuccess => 12,
            Department::Marketing => 8,
            Department::Product => 10,
            Department::Hr => 5,
        }
    }

    /// Head count of each department for a total of `total` (≥ 10) employees.
    pub(crate) fn sizes(total: u32) -> [u32; 6] {
        let mut sizes = [0u32; 6];
        for (i, d) in Department::ALL.iter().enumerate().skip(1) {
            sizes[i] = (total * d.share_percent() / 100).max(1);
        }
        sizes[0] = total - sizes[1..].iter().sum::<u32>();
        sizes
    }

    /// Job title of a role.
    pub(crate) fn title(self, role: Role) -> &'static str {
        use Department::*;
        use Role::*;
        match (self, role) {
            (Support, Head) => "Head of Support",
            (Support, Lead) => "Support Team Lead",
            (Support, Member) => "Support Agent",
            (Sales, Head) => "Head of Sales",
            (Sales, Lead) => "Sales Team Lead",
            (Sales, Member) => "Account Executive",
            (CustomerSuccess, Head) => "Head of Customer Success",
            (CustomerSuccess, Lead) => "Customer Success Lead",
            (CustomerSuccess, Member) => "Customer Success Manager",
            (Marketing, Head) => "Head of Marketing",
            (Marketing, Lead) => "Marketing Lead",
            (Marketing, Member) => "Marketing Specialist",
            (Product, Head) => "Head of Product",
            (Product, Lead) => "Product Lead",
            (Product, Member) => "Product Manager",
            (Hr, Head) => "Head of People",
            (Hr, Lead) => "HR Lead",
            (Hr, Member) => "HR Partner",
        }
    }

    /// Median annual cost (salary and overhead) of a role.
    pub(crate) fn annual_cost(self, role: Role) -> f64 {
        let (head, lead, member) = match self {
            Department::Support => (110_000.0, 68_000.0, 46_000.0),
            Department::Sales => (140_000.0, 95_000.0, 72_000.0),
            Department::CustomerSuccess => (115_000.0, 80_000.0, 62_000.0),
            Department::Marketing => (115_000.0, 80_000.0, 60_000.0),
            Department::Product => (150_000.0, 115_000.0, 95_000.0),
            Department::Hr => (105_000.0, 75_000.0, 55_000.0),
        };
        match role {
            Role::Head => head,
            Role::Lead => lead,
            Role::Member => member,
        }
    }

    /// Base monthly attrition of team members (leads leave half as often, heads a quarter).
    pub(crate) fn monthly_attrition(self) -> f64 {
        match self {
            Department::Support => 0.022,
            Department::Sales => 0.020,
            Department::CustomerSuccess => 0.015,
            Department::Marketing => 0.013,
            Department::Product => 0.010,
            Department::Hr => 0.010,
        }
    }
}

/// Target team size (members per team lead).
pub(crate) const TEAM_SIZE: u32 = 8;

/// The attributes of an employee that never change, derived from `(seed, id)`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EmployeeIdentity {
    pub first_name: &'static str,
    pub last_name: &'static str,
}

impl EmployeeIdentity {
    /// The identity of employee `id`.
    pub(crate) fn new(seed: u64, id: u64) -> Self {
        let mut rng = Rng::derive(seed, Domain::EmployeeIdentity, id);
        let first_name = rng.pick(names::FIRST_NAMES).copied().unwrap_or("Alex");
        let last_name = rng.pick(names::LAST_NAMES).copied().unwrap_or("Doe");
        EmployeeIdentity { first_name, last_name }
    }
}

// ---------------------------------------------------------------------------------------
// learning

/// A course of the training catalogue.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Course {
    pub name: &'static str,
    pub category: &'static str,
    pub duration_hours: i32,
    pub mandatory: bool,
}

/// The training catalogue; course ids are positions + 1.
pub(crate) const COURSES: [Course; 12] = [
    Course { name: "Customer Service Fundamentals", category: "customer_service", duration_hours: 8, mandatory: true },
    Course {
        name: "De-escalating Difficult Conversations",
        category: "customer_service",
        duration_hours: 4,
        mandatory: false,
    },
    Course { name: "Writing Great Support Replies", category: "communication", duration_hours: 3, mandatory: false },
    Course { name: "Active Listening", category: "communication", duration_hours: 2, mandatory: false },
    Course { name: "Product Essentials", category: "product", duration_hours: 6, mandatory: true },
    Course { name: "Advanced Product Configuration", category: "product", duration_hours: 12, mandatory: false },
    Course { name: "Integrations and API Basics", category: "product", duration_hours: 8, mandatory: false },
    Course { name: "Coaching for Team Leads", category: "leadership", duration_hours: 10, mandatory: false },
    Course { name: "Giving and Receiving Feedback", category: "leadership", duration_hours: 3, mandatory: false },
    Course { name: "Data Protection and GDPR", category: "compliance", duration_hours: 2, mandatory: true },
    Course { name: "Information Security Awareness", category: "compliance", duration_hours: 1, mandatory: true },
    Course { name: "Anti-Bribery and Ethics", category: "compliance", duration_hours: 1, mandatory: false },
];

// ---------------------------------------------------------------------------------------
// targets

/// Desired experience per touchpoint and metric, for smb / mid_market / enterprise.
/// CSAT and CES targets are mean scores on the survey's scale (CES: lower is better);
/// NPS targets are Net Promoter Scores (−100…100).
pub(crate) const TARGETS: [(&str, &str, [f64; 3]); 5] = [
    ("contract_signed", "ces", [2.5, 2.5, 3.0]),
    ("onboarding_session", "csat", [4.2, 4.3, 4.5]),
    ("support_ticket", "csat", [4.0, 4.2, 4.4]),
    ("support_ticket", "ces", [3.0, 2.8, 2.5]),
    (NPS_TOUCHPOINT, "nps", [20.0, 30.0, 40.0]),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn department_sizes_add_up_and_support_is_about_half() {
        for total in [10, 11, 30, 120, 200, 1000, 12345] {
            let sizes = Department::sizes(total);
            assert_eq!(sizes.iter().sum::<u32>(), total);
            assert!(sizes.iter().all(|&s| s >= 1), "{total}: {sizes:?}");
            assert!(sizes[0] * 10 >= total * 4, "{total}: support {}", sizes[0]);
        }
        assert_eq!(Department::sizes(200), [100, 30, 24, 16, 20, 10]);
    }

    #[test]
    fn ticket_facts_are_consistent() {
        for id in 1..2000 {
            let f = TicketFacts::new(3, id);
            assert!(f.first_response_s >= 1 && f.first_response_s < f.solve_s, "{f:?}");
            assert!(f.solve_s <= 169 * 3600, "{f:?}");
        }
    }

    #[test]
    fn identities_are_stable_and_segments_are_mixed() {
        let a = CustomerIdentity::new(1, 5);
        let b = CustomerIdentity::new(1, 5);
        assert_eq!((a.first_name, a.fee, a.segment), (b.first_name, b.fee, b.segment));
        let enterprise = (1..3000).filter(|&i| CustomerIdentity::new(1, i).segment == Segment::Enterprise).count();
        assert!((200..400).contains(&enterprise), "{enterprise}");
    }
}
