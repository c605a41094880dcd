//! Shared property-test strategies for parsers of outside data (feature `props`).
//!
//! Every crate's `props` test module feeds its parsers three kinds of input:
//! - [`bytes`]: anything at all, up to a few KiB;
//! - [`json`]: JSON trees whose keys come from the vendor's own vocabulary (so the parser's
//!   branches are reached), with every kind of value in every place — wrong types, huge and
//!   negative numbers, empty and odd strings, deep nesting;
//! - [`mutated`]: a known-good record with fields dropped, retyped or replaced, which reaches
//!   the deepest paths;
//! - [`json_text`]: the same trees as the bytes a server sends — some cut short, some with
//!   numbers no machine type holds (`1e400`, 30 digits), some nested hundreds deep — for the
//!   parsers that start from bytes;
//! - [`deep`]: a tree nested up to 256 levels, built without a parser's depth limit, for code
//!   that walks a `Value` itself.
//!
//! The properties a parser must keep: never panic, never allocate beyond the input's size, and
//! name the record (its id) or field in every error. Run them longer with
//! `scripts/props.sh 10m`; add a target by writing a `prop_…` test in the crate's `props`
//! module with these strategies.

use proptest::prelude::*;
use serde_json::{Map, Value};

/// Anything, up to 4 KiB.
pub fn bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..4096)
}

/// Text that parsers trip on: empty, whitespace, unicode, control characters, long runs,
/// dates and numbers that almost parse.
pub fn odd_text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just(" ".to_string()),
        Just("null".to_string()),
        Just("2026-02-30T25:61:61Z".to_string()),
        Just("2026-12-05T10:00:00Z".to_string()),
        Just("2026-12-05T10:00:00.123+14:00".to_string()),
        Just("-0".to_string()),
        Just("1e309".to_string()),
        Just("\u{0}\u{7f}\u{202e}é漢字🦀".to_string()),
        Just("../../etc/passwd".to_string()),
        Just("<script>alert(1)</script>".to_string()),
        "\\PC{0,40}",
        "[a-zA-Z0-9:/._-]{0,24}",
        proptest::collection::vec(any::<char>(), 0..64).prop_map(|c| c.into_iter().collect()),
        (0usize..5000).prop_map(|n| "x".repeat(n)),
    ]
}

/// A JSON scalar of any kind.
pub fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        odd_text().prop_map(Value::String),
    ]
}

/// JSON trees up to four levels deep whose object keys are drawn from `keys` (the vendor's
/// vocabulary) or are random.
pub fn json(keys: &'static [&'static str]) -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        4 => proptest::sample::select(keys).prop_map(str::to_string),
        1 => "[a-zA-Z@:._-]{0,16}",
    ];
    scalar().prop_recursive(4, 64, 8, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(key.clone(), inner, 0..10)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<String, Value>>())),
        ]
    })
}

/// An object whose keys are drawn from `keys`, each with any value (the shape of one record).
pub fn record(keys: &'static [&'static str]) -> impl Strategy<Value = Value> {
    proptest::collection::btree_map(
        proptest::sample::select(keys).prop_map(str::to_string),
        json(keys),
        0..keys.len().max(1) + 2,
    )
    .prop_map(|m| Value::Object(m.into_iter().collect()))
}

/// One change to a JSON value: what a server that drifted from its documentation might send.
#[derive(Debug, Clone)]
enum Edit {
    /// Drop the field with this index (of the object's keys).
    Drop(usize),
    /// Replace the field's value.
    Replace(usize, Value),
    /// Descend into the field and edit there.
    Into(usize, Box<Edit>),
    /// Add a field.
    Add(String, Value),
}

fn edit(keys: &'static [&'static str]) -> impl Strategy<Value = Edit> {
    let leaf = prop_oneof![
        any::<usize>().prop_map(Edit::Drop),
        (any::<usize>(), json(keys)).prop_map(|(i, v)| Edit::Replace(i, v)),
        (
            proptest::sample::select(keys).prop_map(str::to_string),
            json(keys)
        )
            .prop_map(|(k, v)| Edit::Add(k, v)),
    ];
    leaf.prop_recursive(3, 8, 1, |inner| {
        (any::<usize>(), inner).prop_map(|(i, e)| Edit::Into(i, Box::new(e)))
    })
}

fn apply(v: &mut Value, e: &Edit) {
    match v {
        Value::Object(m) => {
            let n = m.len();
            let key = |i: usize| m.keys().nth(i % n.max(1)).cloned();
            match e {
                Edit::Drop(i) if n > 0 => {
                    if let Some(k) = key(*i) {
                        m.remove(&k);
                    }
                }
                Edit::Replace(i, new) if n > 0 => {
                    if let Some(k) = key(*i) {
                        m.insert(k, new.clone());
                    }
                }
                Edit::Into(i, inner) if n > 0 => {
                    if let Some(k) = key(*i)
                        && let Some(child) = m.get_mut(&k)
                    {
                        apply(child, inner);
                    }
                }
                Edit::Add(k, new) => {
                    m.insert(k.clone(), new.clone());
                }
                _ => {}
            }
        }
        Value::Array(a) if !a.is_empty() => {
            let n = a.len();
            match e {
                Edit::Drop(i) => {
                    a.remove(i % n);
                }
                Edit::Replace(i, new) => a[i % n] = new.clone(),
                Edit::Into(i, inner) => apply(&mut a[i % n], inner),
                Edit::Add(_, new) => a.push(new.clone()),
            }
        }
        other => {
            if let Edit::Replace(_, new) = e {
                *other = new.clone();
            }
        }
    }
}

/// `sample` (a known-good record or page) with one to four edits: fields dropped, retyped,
/// replaced or added, at any depth.
pub fn mutated(sample: Value, keys: &'static [&'static str]) -> impl Strategy<Value = Value> {
    proptest::collection::vec(edit(keys), 1..5).prop_map(move |edits| {
        let mut v = sample.clone();
        for e in &edits {
            apply(&mut v, e);
        }
        v
    })
}

/// The string at `key` of a JSON object, trimmed, when it is a non-empty string (a record's id,
/// which an error must name).
pub fn id_of(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Number literals no machine type holds, or only just: what a drifting server might send.
pub fn huge_number() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(
            &[
                "1e400",
                "-1e400",
                "1E+308",
                "4.9e-325",
                "-0",
                "-0.0",
                "123456789012345678901234567890",
                "-9223372036854775809",
                "18446744073709551616",
                "0.000000000000000000000000000001",
                "1.7976931348623157e309",
            ][..]
        )
        .prop_map(str::to_string),
        "-?[1-9][0-9]{19,60}",
        "-?[0-9]\\.[0-9]{1,30}[eE][+-]?[0-9]{3,6}",
    ]
}

/// JSON text: a tree of `json(keys)` serialised as is, with its `null`s replaced by huge
/// numbers, cut short at any character, or wrapped in 1 to 400 levels of arrays and objects
/// (beyond `serde_json`'s limit of 128).
pub fn json_text(keys: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![
        2 => json(keys).prop_map(|v| v.to_string()),
        2 => (json(keys), huge_number()).prop_map(|(v, n)| {
            let text = v.to_string();
            if text.contains("null") {
                text.replace("null", &n)
            } else {
                format!("[{text},{n}]")
            }
        }),
        1 => (json(keys), any::<proptest::sample::Index>()).prop_map(|(v, at)| {
            let text = v.to_string();
            let cut = text
                .char_indices()
                .map(|(i, _)| i)
                .nth(at.index(text.chars().count().max(1)))
                .unwrap_or(0);
            text[..cut].to_string()
        }),
        1 => (
            1usize..400,
            proptest::sample::select(keys),
            any::<bool>(),
            scalar()
        )
            .prop_map(|(depth, key, objects, inner)| {
                let (open, close) = if objects {
                    (format!("{{{}:", Value::from(key)), "}")
                } else {
                    ("[".to_string(), "]")
                };
                format!("{}{inner}{}", open.repeat(depth), close.repeat(depth))
            }),
    ]
}

/// A JSON tree nested 1 to 256 levels deep (arrays and objects keyed from `keys`), built
/// directly: no parser's depth limit stands in front of the code under test.
pub fn deep(keys: &'static [&'static str]) -> impl Strategy<Value = Value> {
    (
        proptest::collection::vec((proptest::sample::select(keys), any::<bool>()), 1..256),
        scalar(),
    )
        .prop_map(|(levels, mut v)| {
            for (key, object) in levels {
                v = if object {
                    let mut m = Map::new();
                    m.insert(key.to_string(), v);
                    Value::Object(m)
                } else {
                    Value::Array(vec![v])
                };
            }
            v
        })
}
