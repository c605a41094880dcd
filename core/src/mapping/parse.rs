//! Parsing a mapping file: walks the spanned TOML document key by key, so every problem is
//! collected with its exact line and column instead of stopping at the first.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::Path;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::transform::same_word;
use super::validate::close_names;
use super::{
    CUSTOM_PREFIX, Entity, FieldMapping, KNOWN_CANONICAL, Mapping, MappingError, MappingErrors,
    Owner, Side, Transform,
};
use crate::model::canonical::DERIVED;

/// Top-level keys of a mapping file.
const TOP_KEYS: &[&str] = &["system", "side", "field"];
/// Keys of one `[[field]]`.
const FIELD_KEYS: &[&str] = &[
    "canonical",
    "entity",
    "remote",
    "owner",
    "transforms",
    "required",
];
/// Transform names, with and without arguments.
const TRANSFORMS: &[&str] = &[
    "trim",
    "upper",
    "lower",
    "value_map",
    "boolean",
    "date",
    "max_length",
];
/// A date every `date` format must be able to write and read back.
const PROBE_DATE: (i32, u32, u32) = (2024, 2, 29);

type Table<'i> = DeTable<'i>;
type Value<'i> = Spanned<DeValue<'i>>;

/// Error collector: turns byte spans into line/column.
pub(super) struct Ctx<'a> {
    text: &'a str,
    path: &'a Path,
    pub(super) errors: Vec<MappingError>,
}

impl<'a> Ctx<'a> {
    pub(super) fn new(text: &'a str, path: &'a Path) -> Self {
        Ctx {
            text,
            path,
            errors: Vec::new(),
        }
    }

    /// 1-based line and character column of a byte offset.
    pub(super) fn position(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        (line, before[line_start..].chars().count() + 1)
    }

    fn err(&mut self, span: Range<usize>, key: impl Into<String>, message: impl Into<String>) {
        let (line, column) = self.position(span.start);
        self.errors.push(MappingError {
            file: self.path.to_path_buf(),
            line,
            column,
            key: key.into(),
            message: message.into(),
        });
    }

    fn unknown_key(&mut self, span: Range<usize>, key: String, name: &str, expected: &[&str]) {
        let msg = format!(
            "unknown key `{name}`; expected one of: {}{}",
            expected.join(", "),
            did_you_mean(name, expected)
        );
        self.err(span, key, msg);
    }

    fn string(&mut self, v: &Value<'_>, key: &str) -> Option<String> {
        match v.get_ref() {
            DeValue::String(s) => Some(s.to_string()),
            other => {
                self.err(
                    v.span(),
                    key,
                    format!("expected a string, found {}", other.type_str()),
                );
                None
            }
        }
    }

    fn choice<T: Copy>(&mut self, v: &Value<'_>, key: &str, options: &[(&str, T)]) -> Option<T> {
        let s = self.string(v, key)?;
        if let Some((_, t)) = options.iter().find(|(name, _)| *name == s) {
            return Some(*t);
        }
        let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
        let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
        let msg = format!(
            "unknown value \"{s}\"; expected one of: {}{}",
            quoted.join(", "),
            did_you_mean(&s, &names)
        );
        self.err(v.span(), key, msg);
        None
    }
}

/// `; did you mean `x`?` when a name is close to one of the expected ones.
fn did_you_mean(name: &str, expected: &[&str]) -> String {
    match close_names(name, expected.iter().copied(), 1).first() {
        Some(best) => format!("; did you mean `{best}`?"),
        None => String::new(),
    }
}

/// Parses and validates a whole mapping file.
pub(super) fn parse(text: &str, path: &Path) -> Result<Mapping, MappingErrors> {
    let mut cx = Ctx::new(text, path);
    let (doc, syntax) = DeTable::parse_recoverable(text);
    if !syntax.is_empty() {
        for e in syntax {
            let span = e.span().unwrap_or(0..0);
            cx.err(
                span,
                "syntax",
                format!("TOML syntax error: {}", e.message()),
            );
        }
        return Err(finish(cx));
    }
    let mapping = parse_document(&mut cx, doc.get_ref());
    match mapping {
        Some(m) if cx.errors.is_empty() => Ok(m),
        _ => Err(finish(cx)),
    }
}

fn finish(mut cx: Ctx<'_>) -> MappingErrors {
    cx.errors
        .sort_by(|a, b| (a.line, a.column, &a.key).cmp(&(b.line, b.column, &b.key)));
    cx.errors.dedup();
    MappingErrors(cx.errors)
}

fn parse_document(cx: &mut Ctx<'_>, doc: &Table<'_>) -> Option<Mapping> {
    let (mut system, mut side, mut fields) = (None, None, None);
    for (k, v) in doc.iter() {
        match k.get_ref().as_ref() {
            "system" => system = parse_system(cx, v),
            "side" => {
                side = cx.choice(v, "side", &[("plm", Side::Plm), ("dam", Side::Dam)]);
            }
            "field" => fields = Some(v),
            other => cx.unknown_key(k.span(), other.to_string(), other, TOP_KEYS),
        }
    }
    if !doc.iter().any(|(k, _)| k.get_ref() == "system") {
        cx.err(
            0..0,
            "system",
            "missing key `system`: the connector type this mapping is for, e.g. system = \"windchill\"",
        );
    }
    if !doc.iter().any(|(k, _)| k.get_ref() == "side") {
        cx.err(0..0, "side", "missing key `side`: \"plm\" or \"dam\"");
    }
    let fields = match fields {
        Some(v) => parse_fields(cx, v, side),
        None => {
            cx.err(
                0..0,
                "field",
                "no [[field]] entries: a mapping needs at least one field",
            );
            Vec::new()
        }
    };
    Some(Mapping {
        system: system?,
        side: side?,
        fields,
        path: cx.path.to_path_buf(),
    })
}

fn parse_system(cx: &mut Ctx<'_>, v: &Value<'_>) -> Option<String> {
    let s = cx.string(v, "system")?;
    if s.trim().is_empty() {
        cx.err(
            v.span(),
            "system",
            "must name the connector type, e.g. \"windchill\"",
        );
        return None;
    }
    Some(s)
}

/// Where one field's values sat in the file, for cross-field checks.
struct Spans {
    canonical: Range<usize>,
    remote: Range<usize>,
    owner: Range<usize>,
}

fn parse_fields(cx: &mut Ctx<'_>, v: &Value<'_>, side: Option<Side>) -> Vec<FieldMapping> {
    let items = match v.get_ref() {
        DeValue::Array(a) if a.iter().all(|e| e.get_ref().is_table()) && !a.is_empty() => a,
        other => {
            let msg = format!(
                "expected one or more [[field]] tables, found {}",
                other.type_str()
            );
            cx.err(v.span(), "field", msg);
            return Vec::new();
        }
    };
    let mut fields = Vec::new();
    let mut seen_canonical: HashMap<(String, Entity), usize> = HashMap::new();
    let mut seen_remote: HashMap<(String, Entity), usize> = HashMap::new();
    let mut seen_owner: HashMap<String, (Owner, usize)> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        let Some(table) = item.get_ref().as_table() else {
            continue;
        };
        let Some((f, spans)) = parse_field(cx, i, item.span(), table, side) else {
            continue;
        };
        let key = format!("field[{i}]");
        let entity_key = (f.canonical.clone(), f.entity);
        if let Some(line) = seen_canonical.insert(entity_key, f.line) {
            let msg = format!(
                "`{}` is already mapped on entity {} (line {line}); map each canonical field once per entity",
                f.canonical, f.entity
            );
            cx.err(spans.canonical.clone(), format!("{key}.canonical"), msg);
        }
        if let Some(line) = seen_remote.insert((f.remote.clone(), f.entity), f.line) {
            let msg = format!(
                "remote property `{}` of entity {} is already mapped (line {line}); two canonical fields cannot share one property",
                f.remote, f.entity
            );
            cx.err(spans.remote.clone(), format!("{key}.remote"), msg);
        }
        if let Some(owner) = f.owner {
            match seen_owner.get(&f.canonical) {
                Some((o, line)) if *o != owner => {
                    let msg = format!(
                        "`{}` is declared with owner \"{o}\" on line {line}; a field has one owner",
                        f.canonical
                    );
                    cx.err(spans.owner.clone(), format!("{key}.owner"), msg);
                }
                Some(_) => {}
                None => {
                    seen_owner.insert(f.canonical.clone(), (owner, f.line));
                }
            }
        }
        fields.push(f);
    }
    fields
}

fn parse_field(
    cx: &mut Ctx<'_>,
    i: usize,
    span: Range<usize>,
    table: &Table<'_>,
    side: Option<Side>,
) -> Option<(FieldMapping, Spans)> {
    let key = format!("field[{i}]");
    let (mut canonical, mut entity, mut remote, mut owner) = (None, None, None, None);
    let (mut transforms, mut required) = (Some(Vec::new()), Some(false));
    let mut spans = Spans {
        canonical: span.clone(),
        remote: span.clone(),
        owner: span.clone(),
    };
    let mut entity_span = span.clone();
    for (k, v) in table.iter() {
        let name = k.get_ref().as_ref();
        let vkey = format!("{key}.{name}");
        match name {
            "canonical" => {
                spans.canonical = v.span();
                canonical = parse_canonical(cx, v, &vkey);
            }
            "entity" => {
                entity_span = v.span();
                let options = [
                    ("part", Entity::Part),
                    ("link", Entity::Link),
                    ("asset", Entity::Asset),
                ];
                entity = cx.choice(v, &vkey, &options);
            }
            "remote" => {
                spans.remote = v.span();
                remote = cx.string(v, &vkey);
                if remote.as_deref().is_some_and(|r| r.trim().is_empty()) {
                    cx.err(
                        v.span(),
                        &vkey,
                        "must name the remote property, e.g. \"Sku\"",
                    );
                    remote = None;
                }
            }
            "owner" => {
                spans.owner = v.span();
                let options = [
                    ("plm", Owner::Plm),
                    ("dam", Owner::Dam),
                    ("newest", Owner::Newest),
                ];
                owner = cx.choice(v, &vkey, &options);
            }
            "transforms" => transforms = parse_transforms(cx, v, &vkey),
            "required" => match v.get_ref() {
                DeValue::Boolean(b) => required = Some(*b),
                other => {
                    let msg = format!("expected true or false, found {}", other.type_str());
                    cx.err(v.span(), vkey, msg);
                    required = None;
                }
            },
            other => cx.unknown_key(k.span(), vkey.clone(), other, FIELD_KEYS),
        }
    }
    for (name, what) in [
        ("canonical", "partreel's field name, e.g. \"sku\""),
        ("entity", "\"part\", \"link\" or \"asset\""),
        ("remote", "the remote property name"),
    ] {
        if !table.iter().any(|(k, _)| k.get_ref() == name) {
            cx.err(
                span.clone(),
                key.clone(),
                format!("missing key `{name}`: {what}"),
            );
        }
    }
    check_entity(cx, &key, entity_span, entity, side);
    if let (Some(c), Some(e)) = (&canonical, entity)
        && DERIVED.contains(&c.as_str())
    {
        check_derived(cx, &key, c, e, owner, &spans);
    }
    let line = cx.position(spans.remote.start).0;
    let field = FieldMapping {
        canonical: canonical?,
        entity: entity?,
        remote: remote?,
        owner,
        transforms: transforms?,
        required: required?,
        line,
    };
    Some((field, spans))
}

fn parse_canonical(cx: &mut Ctx<'_>, v: &Value<'_>, key: &str) -> Option<String> {
    let c = cx.string(v, key)?;
    if KNOWN_CANONICAL.contains(&c.as_str()) {
        return Some(c);
    }
    if let Some(rest) = c.strip_prefix(CUSTOM_PREFIX) {
        let ok = |ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_';
        if !rest.is_empty() && rest.chars().all(ok) {
            return Some(c);
        }
        let msg = format!(
            "custom field \"{c}\" must be `x_` followed by lowercase letters, digits or `_`"
        );
        cx.err(v.span(), key, msg);
        return None;
    }
    let msg = format!(
        "unknown canonical field \"{c}\"; expected one of: {}, or a custom name starting with `x_`{}",
        KNOWN_CANONICAL.join(", "),
        did_you_mean(&c, KNOWN_CANONICAL)
    );
    cx.err(v.span(), key, msg);
    None
}

fn check_entity(
    cx: &mut Ctx<'_>,
    key: &str,
    span: Range<usize>,
    entity: Option<Entity>,
    side: Option<Side>,
) {
    let (Some(e), Some(s)) = (entity, side) else {
        return;
    };
    if e.side() != s {
        let expected = match s {
            Side::Plm => "\"part\" or \"link\"",
            Side::Dam => "\"asset\"",
        };
        let msg = format!("entity \"{e}\" does not exist on a {s} side; expected {expected}");
        cx.err(span, format!("{key}.entity"), msg);
    }
}

fn check_derived(
    cx: &mut Ctx<'_>,
    key: &str,
    canonical: &str,
    entity: Entity,
    owner: Option<Owner>,
    spans: &Spans,
) {
    if entity == Entity::Part {
        let msg = format!(
            "`{canonical}` is computed by partreel and only written; map it on entity \"link\", not on a read-only part"
        );
        cx.err(spans.canonical.clone(), format!("{key}.canonical"), msg);
    }
    if owner.is_some() {
        let msg =
            format!("`{canonical}` is computed by partreel, which always owns it; remove `owner`");
        cx.err(spans.owner.clone(), format!("{key}.owner"), msg);
    }
}

fn parse_transforms(cx: &mut Ctx<'_>, v: &Value<'_>, key: &str) -> Option<Vec<Transform>> {
    let DeValue::Array(items) = v.get_ref() else {
        let msg = format!(
            "expected an array of transforms, e.g. [\"trim\", \"upper\"], found {}",
            v.get_ref().type_str()
        );
        cx.err(v.span(), key, msg);
        return None;
    };
    let mut out = Some(Vec::new());
    for (j, item) in items.iter().enumerate() {
        let t = parse_transform(cx, item, &format!("{key}[{j}]"));
        out = match (out, t) {
            (Some(mut list), Some(t)) => {
                list.push(t);
                Some(list)
            }
            _ => None,
        };
    }
    out
}

fn unknown_transform(cx: &mut Ctx<'_>, span: Range<usize>, key: &str, name: &str) {
    let msg = format!(
        "unknown transform `{name}`; expected one of: {}{}",
        TRANSFORMS.join(", "),
        did_you_mean(name, TRANSFORMS)
    );
    cx.err(span, key, msg);
}

fn parse_transform(cx: &mut Ctx<'_>, v: &Value<'_>, key: &str) -> Option<Transform> {
    match v.get_ref() {
        DeValue::String(s) => match s.as_ref() {
            "trim" => Some(Transform::Trim),
            "upper" => Some(Transform::Upper),
            "lower" => Some(Transform::Lower),
            name @ ("value_map" | "boolean" | "date" | "max_length") => {
                let msg = format!(
                    "`{name}` needs arguments, e.g. {}",
                    example(name).unwrap_or_default()
                );
                cx.err(v.span(), key, msg);
                None
            }
            other => {
                unknown_transform(cx, v.span(), key, other);
                None
            }
        },
        DeValue::Table(t) => {
            let mut entries = t.iter();
            let Some((k, arg)) = entries.next() else {
                cx.err(
                    v.span(),
                    key,
                    "empty table; expected one transform such as { max_length = 200 }",
                );
                return None;
            };
            if let Some((extra, _)) = entries.next() {
                let msg = "a transform table holds exactly one transform; give each its own array element";
                cx.err(extra.span(), key, msg);
                return None;
            }
            let name = k.get_ref().as_ref();
            let akey = format!("{key}.{name}");
            match name {
                "value_map" => parse_value_map(cx, arg, &akey),
                "boolean" => parse_boolean(cx, arg, &akey),
                "date" => parse_date(cx, arg, &akey),
                "max_length" => parse_max_length(cx, arg, &akey),
                "trim" | "upper" | "lower" => {
                    let msg = format!("`{name}` takes no arguments; write it as \"{name}\"");
                    cx.err(k.span(), key, msg);
                    None
                }
                other => {
                    unknown_transform(cx, k.span(), key, other);
                    None
                }
            }
        }
        other => {
            let msg = format!(
                "expected a transform name such as \"trim\" or a table such as {{ max_length = 200 }}, found {}",
                other.type_str()
            );
            cx.err(v.span(), key, msg);
            None
        }
    }
}

/// An example of each transform that takes arguments, for error messages.
fn example(name: &str) -> Option<&'static str> {
    Some(match name {
        "value_map" => "{ value_map = { RELEASED = \"Released\" } }",
        "boolean" => "{ boolean = { true = [\"Yes\"], false = [\"No\"] } }",
        "date" => "{ date = { format = \"%d.%m.%Y\" } }",
        "max_length" => "{ max_length = 200 }",
        _ => return None,
    })
}

fn expect_table<'v, 'i>(
    cx: &mut Ctx<'_>,
    v: &'v Value<'i>,
    key: &str,
    name: &str,
) -> Option<&'v Table<'i>> {
    match v.get_ref() {
        DeValue::Table(t) => Some(t),
        other => {
            let msg = format!(
                "expected a table, e.g. {}, found {}",
                example(name).unwrap_or_default(),
                other.type_str()
            );
            cx.err(v.span(), key, msg);
            None
        }
    }
}

fn parse_value_map(cx: &mut Ctx<'_>, v: &Value<'_>, key: &str) -> Option<Transform> {
    let table = expect_table(cx, v, key, "value_map")?;
    if table.is_empty() {
        cx.err(
            v.span(),
            key,
            "needs at least one entry REMOTE = \"canonical\"",
        );
        return None;
    }
    let mut map = BTreeMap::new();
    let mut ok = true;
    for (k, val) in table.iter() {
        let name = k.get_ref().to_string();
        match cx.string(val, &format!("{key}.{name}")) {
            Some(s) => {
                map.insert(name, s);
            }
            None => ok = false,
        }
    }
    ok.then_some(Transform::ValueMap(map))
}

fn parse_boolean(cx: &mut Ctx<'_>, v: &Value<'_>, key: &str) -> Option<Transform> {
    let table = expect_table(cx, v, key, "boolean")?;
    let (mut true_words, mut false_words) = (None, None);
    let mut ok = true;
    for (k, val) in table.iter() {
        let name = k.get_ref().as_ref();
        let wkey = format!("{key}.{name}");
        match name {
            "true" => true_words = parse_words(cx, val, &wkey),
            "false" => false_words = parse_words(cx, val, &wkey),
            other => {
                cx.unknown_key(k.span(), wkey.clone(), other, &["true", "false"]);
                ok = false;
            }
        }
    }
    for name in ["true", "false"] {
        if !table.iter().any(|(k, _)| k.get_ref() == name) {
            let msg =
                format!("missing key `{name}`: a list of remote words, e.g. [\"Yes\", \"Y\"]");
            cx.err(v.span(), key, msg);
        }
    }
    let (true_words, false_words) = (true_words?, false_words?);
    for w in &true_words {
        if false_words.iter().any(|f| same_word(f, w)) {
            let msg = format!("word \"{w}\" is in both the true and the false list");
            cx.err(v.span(), key, msg);
            ok = false;
        }
    }
    ok.then_some(Transform::Boolean {
        true_words,
        false_words,
    })
}

fn parse_words(cx: &mut Ctx<'_>, v: &Value<'_>, key: &str) -> Option<Vec<String>> {
    let words: Option<Vec<String>> = match v.get_ref() {
        DeValue::Array(items) => items
            .iter()
            .map(|w| match w.get_ref() {
                DeValue::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
                _ => None,
            })
            .collect(),
        _ => None,
    };
    match words {
        Some(w) if !w.is_empty() => Some(w),
        _ => {
            let msg = "expected a non-empty list of non-blank words, e.g. [\"Yes\", \"Y\", \"1\"]";
            cx.err(v.span(), key, msg);
            None
        }
    }
}

fn parse_date(cx: &mut Ctx<'_>, v: &Value<'_>, key: &str) -> Option<Transform> {
    let table = expect_table(cx, v, key, "date")?;
    let mut format = None;
    let mut ok = true;
    for (k, val) in table.iter() {
        let name = k.get_ref().as_ref();
        let fkey = format!("{key}.{name}");
        match name {
            "format" => {
                format = cx.string(val, &fkey);
                if let Some(f) = &format
                    && !date_format_round_trips(f)
                {
                    let msg = format!(
                        "\"{f}\" is not a chrono date format that writes and reads back a full date; use e.g. \"%d.%m.%Y\" or \"%Y-%m-%d\""
                    );
                    cx.err(val.span(), &fkey, msg);
                    format = None;
                }
            }
            other => {
                cx.unknown_key(k.span(), fkey.clone(), other, &["format"]);
                ok = false;
            }
        }
    }
    if !table.iter().any(|(k, _)| k.get_ref() == "format") {
        cx.err(
            v.span(),
            key,
            "missing key `format`, e.g. format = \"%d.%m.%Y\"",
        );
    }
    let format = format?;
    ok.then_some(Transform::Date { format })
}

/// True when `format` is valid and writing [`PROBE_DATE`] with it reads back the same date.
fn date_format_round_trips(format: &str) -> bool {
    let (y, m, d) = PROBE_DATE;
    let Some(date) = chrono::NaiveDate::from_ymd_opt(y, m, d) else {
        return false;
    };
    super::transform::format_date(date, format)
        .and_then(|text| chrono::NaiveDate::parse_from_str(&text, format).ok())
        == Some(date)
}

fn parse_max_length(cx: &mut Ctx<'_>, v: &Value<'_>, key: &str) -> Option<Transform> {
    let n = match v.get_ref() {
        DeValue::Integer(i) => u64::from_str_radix(i.as_str(), i.radix()).ok(),
        _ => None,
    };
    match n.and_then(|n| usize::try_from(n).ok()) {
        Some(n) if n > 0 => Some(Transform::MaxLength(n)),
        _ => {
            let msg = "expected a positive whole number of bytes, e.g. { max_length = 200 }";
            cx.err(v.span(), key, msg);
            None
        }
    }
}
