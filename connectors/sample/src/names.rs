//! Fixed vocabularies (first and last names, countries, e-mail domains, ticket subjects) and
//! the derivation of a person's name and e-mail from their id.
//!
//! Names are never stored: they are recomputed from `(seed, id)` whenever a row is built, so
//! a million customers cost no string memory. All names are plain ASCII so e-mail addresses
//! can be built by lower-casing.

use std::fmt::Write;

/// Given names (ASCII).
pub(crate) const FIRST_NAMES: &[&str] = &[
    "Anna", "Ben", "Carla", "David", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas", "Kira", "Liam", "Maria",
    "Noah", "Olga", "Pedro", "Quinn", "Rosa", "Samir", "Tara", "Umar", "Vera", "Wen", "Xenia", "Yusuf", "Zoe",
    "Alexei", "Beatriz", "Chen", "Daria", "Emil", "Fatima", "Giulia", "Hana", "Ivan", "Julia", "Kenji", "Lena",
    "Marco", "Nadia", "Oscar", "Priya", "Rafael", "Sofia", "Tomas", "Ulla", "Viktor", "Yara", "Aisha", "Bruno",
    "Clara", "Dmitri", "Eva", "Felix", "Greta", "Henrik", "Irina", "Jakob", "Leila", "Mateo", "Nina", "Pavel", "Sara",
    "Timo",
];

/// Family names (ASCII).
pub(crate) const LAST_NAMES: &[&str] = &[
    "Smith", "Garcia", "Mueller", "Rossi", "Novak", "Kowalski", "Ivanova", "Petrov", "Jensen", "Silva", "Tanaka",
    "Kim", "Nguyen", "Patel", "Cohen", "Dubois", "Martin", "Bauer", "Larsen", "Nowak", "Horvat", "Popescu", "Fischer",
    "Moreau", "Costa", "Lopez", "Sato", "Wang", "Khan", "Ali", "Okafor", "Mensah", "Schmidt", "Weber", "Meyer",
    "Wagner", "Becker", "Hoffmann", "Schulz", "Koch", "Richter", "Klein", "Wolf", "Brown", "Taylor", "Wilson",
    "Johnson", "Walker", "Young", "King", "Wright", "Scott", "Green", "Baker", "Adams", "Nelson", "Hill", "Campbell",
    "Mitchell", "Roberts", "Carter", "Phillips", "Evans", "Turner",
];

/// ISO 3166-1 alpha-2 country codes of customers, with relative weights.
pub(crate) const COUNTRIES: &[(&str, u32)] = &[
    ("US", 30),
    ("GB", 10),
    ("DE", 10),
    ("FR", 7),
    ("NL", 5),
    ("SE", 4),
    ("PL", 4),
    ("ES", 5),
    ("IT", 5),
    ("BR", 5),
    ("IN", 5),
    ("JP", 3),
    ("AU", 3),
    ("CA", 4),
];

/// E-mail domains of customers (reserved `example` domains: nobody real is ever addressed).
pub(crate) const CUSTOMER_DOMAINS: &[&str] =
    &["example.com", "example.org", "example.net", "mail.example.com", "corp.example", "shop.example"];

/// E-mail domain of employees.
pub(crate) const EMPLOYEE_DOMAIN: &str = "staff.txlake.example";

/// Subjects of support tickets.
pub(crate) const TICKET_SUBJECTS: &[&str] = &[
    "Cannot log in",
    "Password reset link expired",
    "Question about my invoice",
    "Export to CSV fails",
    "Dashboard loads slowly",
    "How do I add a user?",
    "Integration stopped syncing",
    "Wrong totals in report",
    "Request to change plan",
    "API returns 500 errors",
    "Notification e-mails not arriving",
    "Data import is stuck",
    "Feature request: dark mode",
    "Single sign-on setup",
    "Mobile app crashes on start",
    "Refund request",
];

/// Appends `s` lower-cased (ASCII) to `out`.
fn push_lower(out: &mut String, s: &str) {
    out.extend(s.chars().map(|c| c.to_ascii_lowercase()));
}

/// Writes `"First Last"` into `out` (which is cleared first).
pub(crate) fn write_name(out: &mut String, first: &str, last: &str) {
    out.clear();
    out.push_str(first);
    out.push(' ');
    out.push_str(last);
}

/// Writes `"first.last.<id>@domain"` into `out` (cleared first); the id keeps every address
/// unique, which the model's `person_key` (a hash of the e-mail) relies on.
pub(crate) fn write_email(out: &mut String, first: &str, last: &str, id: i64, domain: &str) {
    out.clear();
    push_lower(out, first);
    out.push('.');
    push_lower(out, last);
    // Writing to a String cannot fail.
    let _ = write!(out, ".{id}@");
    out.push_str(domain);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_emails_are_well_formed() {
        let mut buf = String::new();
        write_email(&mut buf, "Anna", "Mueller", 17, "example.com");
        assert_eq!(buf, "anna.mueller.17@example.com");
        write_name(&mut buf, "Anna", "Mueller");
        assert_eq!(buf, "Anna Mueller");
        assert!(FIRST_NAMES.iter().chain(LAST_NAMES).all(|n| n.is_ascii() && !n.contains(' ')));
        assert!(COUNTRIES.iter().all(|(c, w)| c.len() == 2 && c.chars().all(|ch| ch.is_ascii_uppercase()) && *w > 0));
    }
}
