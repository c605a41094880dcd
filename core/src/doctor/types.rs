//! Whether a canonical field's values fit a remote property's declared type: partreel's values
//! are text, `"true"`/`"false"` flags and `YYYY-MM-DD` dates; a remote property typed as a
//! number, a reference or a date cannot hold free text.

use crate::model::canonical;

/// What kind of value a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueClass {
    /// Free text (also what an unknown type name is taken for).
    Text,
    /// True or false.
    Bool,
    /// A calendar date or a timestamp.
    Time,
    /// A number.
    Number,
    /// A reference to another object (Teamcenter typed/untyped references and relations).
    Reference,
    /// Anything: a custom `x_` canonical field, whose meaning partreel does not know.
    Any,
}

/// The class of a remote type name as connectors report it: OData `Edm.*` (Windchill), ITK
/// value types (Teamcenter), Bynder metaproperty types, 3DEXPERIENCE and AEM type names.
pub fn remote_class(kind: &str) -> ValueClass {
    let k = kind.trim_end_matches("[]").to_ascii_lowercase();
    let k = k.strip_prefix("edm.").unwrap_or(&k);
    match k {
        "boolean" | "bool" | "logical" => ValueClass::Bool,
        "date" | "datetime" | "datetimeoffset" | "date_time" | "timeofday" => ValueClass::Time,
        "int" | "int16" | "int32" | "int64" | "integer" | "short" | "long" | "byte" | "sbyte"
        | "double" | "float" | "single" | "decimal" | "number" | "real" => ValueClass::Number,
        "typed_reference" | "untyped_reference" | "external_reference" | "typed_relation"
        | "untyped_relation" => ValueClass::Reference,
        _ => ValueClass::Text,
    }
}

/// The class of a canonical field's values.
pub fn canonical_class(name: &str) -> ValueClass {
    match name {
        canonical::VISIBLE_WATERMARK | canonical::WATERMARK_PRESERVED => ValueClass::Bool,
        canonical::RIGHTS_EXPIRY => ValueClass::Time,
        n if n.starts_with(crate::mapping::CUSTOM_PREFIX) => ValueClass::Any,
        _ => ValueClass::Text,
    }
}

/// Whether values fit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Fit {
    Yes,
    /// They cannot: writes would be refused or values misread.
    No(String),
    /// Usually they do, but not always.
    Doubtful(String),
}

/// Whether the values of canonical field `name` fit a remote property of type `kind`.
pub(super) fn compatible(name: &str, kind: &str) -> Fit {
    let remote = remote_class(kind);
    let ours = canonical_class(name);
    if kind.ends_with("[]") {
        return Fit::Doubtful(
            "the property holds a list; partreel reads its first value and writes one".into(),
        );
    }
    match (ours, remote) {
        (_, ValueClass::Text) | (ValueClass::Any, _) => Fit::Yes,
        (ValueClass::Bool, ValueClass::Bool) | (ValueClass::Time, ValueClass::Time) => Fit::Yes,
        (_, ValueClass::Reference) => Fit::No(
            "the property holds a reference to another object, not a value; map a text \
             property"
                .into(),
        ),
        (ValueClass::Text, r) => Fit::No(format!(
            "the property holds {}, the field holds text; map a text property",
            describe(r)
        )),
        (o, r) => Fit::No(format!(
            "the property holds {}, the field holds {}",
            describe(r),
            describe(o)
        )),
    }
}

fn describe(c: ValueClass) -> &'static str {
    match c {
        ValueClass::Text => "text",
        ValueClass::Bool => "true/false",
        ValueClass::Time => "dates",
        ValueClass::Number => "numbers",
        ValueClass::Reference => "references",
        ValueClass::Any => "any value",
    }
}
