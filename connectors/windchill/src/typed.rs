//! Values written with the types `$metadata` declares: a soft attribute typed `Edm.Boolean`
//! takes a JSON `true`/`false`, a number type a JSON number, `Edm.DateTimeOffset` an RFC 3339
//! timestamp — WRS refuses a string for them (WindchillCustomizationUsingWRS.html: IBAs appear
//! in `$metadata` with their Windchill types). partreel's values are text, so each is converted
//! here, and compared back after a write by the same type.

use serde_json::{Number, Value};

/// The JSON value for `text` in a property of OData type `kind` (`Edm.String` and unknown types:
/// the text itself; an empty text clears a typed property with `null`). The error says what the
/// type accepts.
pub(crate) fn value(kind: &str, text: &str) -> Result<Value, String> {
    let t = text.trim();
    let typed = !matches!(kind, "Edm.String" | "");
    if typed && t.is_empty() {
        return Ok(Value::Null);
    }
    match kind {
        "Edm.Boolean" => boolean(t)
            .map(Value::Bool)
            .ok_or_else(|| format!("{kind} takes true or false, not {text:?}")),
        "Edm.Int16" | "Edm.Int32" | "Edm.Int64" | "Edm.Byte" | "Edm.SByte" => t
            .parse::<i64>()
            .map(|n| Value::Number(n.into()))
            .map_err(|_| format!("{kind} takes a whole number, not {text:?}")),
        "Edm.Double" | "Edm.Single" | "Edm.Decimal" => t
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| format!("{kind} takes a number, not {text:?}")),
        "Edm.DateTimeOffset" => timestamp(t)
            .map(Value::String)
            .ok_or_else(|| format!("{kind} takes a date or an RFC 3339 time, not {text:?}")),
        "Edm.Date" => chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d")
            .map(|_| Value::String(t.to_string()))
            .map_err(|_| format!("{kind} takes YYYY-MM-DD, not {text:?}")),
        _ => Ok(Value::String(text.to_string())),
    }
}

/// True/false from the words mappings write for flags (`true`/`false`, `yes`/`no`, `y`/`n`,
/// `1`/`0`), case-insensitively.
fn boolean(t: &str) -> Option<bool> {
    match t.to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "1" => Some(true),
        "false" | "no" | "n" | "0" => Some(false),
        _ => None,
    }
}

/// An RFC 3339 time as written (normalised to UTC), or a date as its midnight UTC.
fn timestamp(t: &str) -> Option<String> {
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(t) {
        return Some(
            d.with_timezone(&chrono::Utc)
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string(),
        );
    }
    chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .ok()
        .map(|d| format!("{d}T00:00:00Z"))
}

/// Whether a value read back (as text) is the one written, compared by the property's type:
/// flags by truth, numbers by value, times by instant (a date being its midnight UTC), text as
/// text (trimmed).
pub(crate) fn same(kind: &str, read: &str, written: &str) -> bool {
    let (r, w) = (read.trim(), written.trim());
    if r == w {
        return true;
    }
    match kind {
        "Edm.Boolean" => boolean(r).is_some() && boolean(r) == boolean(w),
        "Edm.DateTimeOffset" => timestamp(r).is_some() && timestamp(r) == timestamp(w),
        _ => {
            r.eq_ignore_ascii_case(w) && matches!(w.to_ascii_lowercase().as_str(), "true" | "false")
                || matches!((r.parse::<f64>(), w.parse::<f64>()), (Ok(a), Ok(b)) if a == b)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_take_the_declared_type() {
        assert_eq!(value("Edm.String", "Yes").unwrap(), json!("Yes"));
        assert_eq!(value("Edm.Boolean", "Yes").unwrap(), json!(true));
        assert_eq!(value("Edm.Boolean", "false").unwrap(), json!(false));
        assert_eq!(value("Edm.Boolean", "").unwrap(), Value::Null);
        assert!(
            value("Edm.Boolean", "maybe")
                .unwrap_err()
                .contains("true or false")
        );
        assert_eq!(value("Edm.Int32", "42").unwrap(), json!(42));
        assert!(value("Edm.Int32", "4.2").is_err());
        assert_eq!(value("Edm.Double", "4.5").unwrap(), json!(4.5));
        assert_eq!(
            value("Edm.DateTimeOffset", "2026-12-31").unwrap(),
            json!("2026-12-31T00:00:00Z")
        );
        assert_eq!(
            value("Edm.DateTimeOffset", "2026-12-31T10:00:00+01:00").unwrap(),
            json!("2026-12-31T09:00:00Z")
        );
        assert!(value("Edm.Date", "31.12.2026").is_err());
        assert_eq!(value("PTC.Custom", "x").unwrap(), json!("x"));
    }

    #[test]
    fn read_backs_compare_by_type() {
        assert!(same("Edm.Boolean", "true", "Yes"));
        assert!(!same("Edm.Boolean", "false", "Yes"));
        assert!(same(
            "Edm.DateTimeOffset",
            "2026-12-31T00:00:00Z",
            "2026-12-31"
        ));
        assert!(same("Edm.Double", "4.50", "4.5"));
        assert!(!same("Edm.String", "Yes", "yes"));
    }
}
