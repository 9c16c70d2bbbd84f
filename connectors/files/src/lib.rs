//! The `files` connector (work in progress in this commit: filled in by the next ones).
