//! Checks that need more than one file's text: a mapping against the remote system's schema, and
//! the PLM and DAM mappings against each other.

use std::collections::BTreeMap;

use super::{Entity, FieldMapping, Mapping, MappingError, MappingErrors, Owner, Side};
use crate::connector::RemoteSchema;
use crate::model::canonical::DERIVED;

/// How many close names an unknown-property error lists.
const MAX_SUGGESTIONS: usize = 5;

/// Up to `max` candidates close to `name`: same name ignoring case, one containing the other,
/// or within a small edit distance; closest first.
pub(super) fn close_names<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    max: usize,
) -> Vec<String> {
    let wanted = name.to_lowercase();
    let limit = (wanted.chars().count() / 3).max(2);
    let mut scored: Vec<(usize, &str)> = candidates
        .into_iter()
        .filter_map(|c| {
            let lower = c.to_lowercase();
            let d = edit_distance(&wanted, &lower);
            let contains = lower.len() >= 3
                && wanted.len() >= 3
                && (lower.contains(&wanted) || wanted.contains(&lower));
            (d <= limit || contains).then_some((d, c))
        })
        .collect();
    scored.sort();
    scored.dedup();
    scored
        .into_iter()
        .take(max)
        .map(|(_, c)| c.to_string())
        .collect()
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

fn error_at(mapping: &Mapping, f: &FieldMapping, index: usize, message: String) -> MappingError {
    MappingError {
        file: mapping.path.clone(),
        line: f.line,
        column: 1,
        key: format!("field[{index}].remote"),
        message,
    }
}

/// True when partreel writes this field to its remote property.
pub(super) fn is_written(f: &FieldMapping, owner: Option<Owner>) -> bool {
    match f.entity {
        Entity::Part => false,
        Entity::Link => true,
        Entity::Asset => {
            DERIVED.contains(&f.canonical.as_str())
                || matches!(owner, Some(Owner::Plm | Owner::Newest))
        }
    }
}

/// Checks each field's remote property against `schema`; `owner` gives the owner used to decide
/// whether an asset field is written.
pub(super) fn against_schema(
    mapping: &Mapping,
    schema: &RemoteSchema,
    owner: impl Fn(&FieldMapping) -> Option<Owner>,
) -> Vec<MappingError> {
    let mut errors = Vec::new();
    for (i, f) in mapping.fields.iter().enumerate() {
        let entity = f.entity.as_str();
        let Some(props) = schema.entities.get(entity) else {
            let known: Vec<&str> = schema.entities.keys().map(String::as_str).collect();
            let msg = format!(
                "{} describes no entity \"{entity}\" (it has: {}), so `{}` cannot be checked",
                mapping.system,
                known.join(", "),
                f.remote
            );
            errors.push(error_at(mapping, f, i, msg));
            continue;
        };
        let Some(prop) = props.iter().find(|p| p.name == f.remote) else {
            let close = close_names(
                &f.remote,
                props.iter().map(|p| p.name.as_str()),
                MAX_SUGGESTIONS,
            );
            let hint = if close.is_empty() {
                format!("no similar name among its {} properties", props.len())
            } else {
                format!("close names: {}", close.join(", "))
            };
            let msg = format!(
                "{} has no property `{}` on entity {entity}; {hint}",
                mapping.system, f.remote
            );
            errors.push(error_at(mapping, f, i, msg));
            continue;
        };
        if !prop.writable && is_written(f, owner(f)) {
            let msg = format!(
                "property `{}` of entity {entity} is read-only in {}, but partreel writes `{}` there; pick a writable property{}",
                f.remote,
                mapping.system,
                f.canonical,
                if f.entity == Entity::Asset {
                    " or make the field owner \"dam\""
                } else {
                    ""
                }
            );
            errors.push(error_at(mapping, f, i, msg));
        }
    }
    errors
}

/// The pairing checks of [`super::MappingSet::new`].
pub(super) fn check_set(plm: &Mapping, dam: &Mapping) -> Result<(), MappingErrors> {
    let mut errors = Vec::new();
    for (m, want) in [(plm, Side::Plm), (dam, Side::Dam)] {
        if m.side != want {
            errors.push(MappingError {
                file: m.path.clone(),
                line: 1,
                column: 1,
                key: "side".into(),
                message: format!(
                    "this file is used as the {want} mapping but declares side = \"{}\"",
                    m.side
                ),
            });
        }
    }
    let declared = |m: &Mapping| -> BTreeMap<String, (Owner, usize, usize)> {
        let mut out = BTreeMap::new();
        for (i, f) in m.fields.iter().enumerate() {
            if let Some(o) = f.owner {
                out.entry(f.canonical.clone()).or_insert((o, f.line, i));
            }
        }
        out
    };
    let dam_owners = declared(dam);
    for (canonical, (po, pline, pi)) in declared(plm) {
        let Some(&(dow, dline, di)) = dam_owners.get(&canonical) else {
            continue;
        };
        if po == dow {
            continue;
        }
        errors.push(owner_conflict(
            &canonical,
            (plm, pline, pi, po),
            (dam, dline, dow),
        ));
        errors.push(owner_conflict(
            &canonical,
            (dam, dline, di, dow),
            (plm, pline, po),
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(MappingErrors(errors))
    }
}

/// One half of an owner conflict: the error in `here`'s file naming the other location.
fn owner_conflict(
    canonical: &str,
    (here, line, index, mine): (&Mapping, usize, usize, Owner),
    (other, other_line, theirs): (&Mapping, usize, Owner),
) -> MappingError {
    MappingError {
        file: here.path.clone(),
        line,
        column: 1,
        key: format!("field[{index}].owner"),
        message: format!(
            "`{canonical}` has owner \"{mine}\" here but \"{theirs}\" in {}:{other_line}; declare the same owner in both files (or in one only)",
            other.path.display()
        ),
    }
}
