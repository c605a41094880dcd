//! Rules both state stores apply, written once: each store reads its rows its own way and asks
//! these functions what they mean, so SQLite and PostgreSQL cannot drift apart on them (the
//! conformance suite pins the cases where they once did).

use chrono::{DateTime, Utc};

use super::fmt_time;
use crate::model::CanonicalValues;

/// The PLM record a link id is already bound to, when a change feed brings another one under
/// the same id: that record is a duplicate ([`super::Observed::OtherRecord`]). A link that
/// knows no record yet (created before its id was read back) is bound to the first one seen.
pub(crate) fn other_record(known: Option<String>, seen: &str) -> Option<String> {
    known.filter(|k| !k.is_empty() && k != seen)
}

/// Whether a link record read from a change feed is only the echo of what the state already
/// holds (partreel's own write coming back): its modification time, at the stored precision,
/// and its values are both the same. Times alone do not tell: some PLMs stamp whole seconds,
/// so an engineer's edit made in the same second as partreel's write has the same time.
pub(crate) fn is_echo(
    stored_modified: Option<DateTime<Utc>>,
    stored_values: &CanonicalValues,
    modified: DateTime<Utc>,
    values: &CanonicalValues,
) -> bool {
    stored_modified.map(fmt_time) == Some(fmt_time(modified)) && stored_values == values
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn vals(v: &str) -> CanonicalValues {
        [("campaign".to_string(), v.to_string())]
            .into_iter()
            .collect()
    }

    #[test]
    fn an_echo_needs_the_same_time_and_the_same_values() {
        let t = Utc
            .with_ymd_and_hms(2026, 11, 1, 9, 0, 0)
            .single()
            .expect("time");
        assert!(is_echo(Some(t), &vals("a"), t, &vals("a")));
        assert!(
            !is_echo(Some(t), &vals("a"), t, &vals("b")),
            "same second, other value"
        );
        let later = t + chrono::Duration::seconds(1);
        assert!(!is_echo(Some(t), &vals("a"), later, &vals("a")));
        assert!(!is_echo(None, &vals("a"), t, &vals("a")), "never observed");
        // Below the stored precision (microseconds) times are the same.
        let nanos = t + chrono::Duration::nanoseconds(300);
        assert!(is_echo(Some(t), &vals("a"), nanos, &vals("a")));
    }

    #[test]
    fn another_record_only_when_one_is_known() {
        assert_eq!(other_record(None, "OR:1"), None);
        assert_eq!(other_record(Some(String::new()), "OR:1"), None);
        assert_eq!(other_record(Some("OR:1".into()), "OR:1"), None);
        assert_eq!(
            other_record(Some("OR:1".into()), "OR:2").as_deref(),
            Some("OR:1")
        );
    }
}
