//! Metric tests (customers): each expected number is worked out by hand from the fixture in the test.
