//! Mapping files: which canonical field lives in which remote property, who owns it, and how its
//! text is converted on the way in and out.
//!
//! Each connector has one mapping file (`mappings/<system>.toml`, the admin-facing reference is
//! `docs/mappings.md`). [`Mapping::load`] reads, parses and validates one file without any I/O
//! beyond reading it; [`Mapping::validate_against`] then checks it against the remote system's
//! [`RemoteSchema`]; [`MappingSet`] pairs the PLM and the DAM file and settles each field's
//! [`Owner`]. At run time [`Mapping::to_canonical`] and [`Mapping::to_remote`] convert records.
//!
//! # Decisions
//! - **Every error at once.** Parsing walks the whole document and collects every problem as a
//!   [`MappingError`] with a 1-based line and column (columns count characters). Errors are
//!   sorted by position. A TOML syntax error stops the semantic checks (the document is not
//!   trustworthy), but all syntax errors the parser recovers from are reported together.
//! - **Keys** in errors are paths with 0-based indices, as serde paths are:
//!   `field[3].transforms[1]` is the second transform of the fourth `[[field]]`. Errors about the
//!   whole file (missing `system`, unreadable file) point at 1:1; a TOML syntax error has key
//!   `syntax`.
//! - **[`FieldMapping::line`]** is the line of the field's `remote = …` entry: schema errors from
//!   [`Mapping::validate_against`] and owner conflicts from [`MappingSet::new`] point there, at
//!   column 1.
//! - **Transforms** run in the listed order from remote to canonical and in reverse order, each
//!   inverted, from canonical to remote. `trim`, `upper` and `lower` normalise in both directions
//!   (a value written is the value read back, so the next sync sees no change). `max_length`
//!   counts UTF-8 bytes and cuts at a character boundary, on write only. `value_map` is matched
//!   exactly (case-sensitive); its inverse picks the first remote key in sorted order. `boolean`
//!   words are matched trimmed and case-insensitively, and canonical `true`/`false` likewise.
//! - **Blank means absent** when reading: a blank remote value, or one that is blank after the
//!   transforms, is left out of the canonical values. Writing a canonical `""` clears the remote
//!   property (it is written as `""`, transforms skipped).
//! - **Checks beyond the brief**: a remote property may be mapped only once per entity (two
//!   canonical fields writing one property would fight); a canonical field may not declare two
//!   different owners in one file; a file needs at least one `[[field]]`; custom canonical names
//!   are `x_` followed by lowercase letters, digits or `_`; `date` formats must round-trip a date.
//! - **Which fields are written** (for the writable check of [`Mapping::validate_against`]): every
//!   `link` field (partreel creates and updates the link record), never a `part` field, and an
//!   `asset` field when its owner is `plm` or `newest` or the field is derived.
//!
//! The list of known canonical names is [`KNOWN_CANONICAL`], which is
//! [`crate::model::canonical::ALL`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::connector::RemoteSchema;
use crate::model::{CanonicalValues, RemoteFields, canonical};

mod parse;
mod transform;
mod validate;

#[cfg(test)]
mod tests;

/// Every canonical field name partreel understands (custom names start with `x_`).
pub const KNOWN_CANONICAL: &[&str] = canonical::ALL;

/// Prefix of custom canonical field names, carried through unchanged.
pub const CUSTOM_PREFIX: &str = "x_";

/// Which kind of system a mapping file describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// A product lifecycle management system (entities `part` and `link`).
    Plm,
    /// A digital asset manager (entity `asset`).
    Dam,
}

/// The remote record a field lives on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Entity {
    /// A PLM part revision; partreel only reads it.
    Part,
    /// The PLM record partreel writes for a prompt-to-part link.
    Link,
    /// A DAM asset (the clip).
    Asset,
}

/// Which side's value wins for a canonical field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Owner {
    /// The PLM value is written to the DAM; PLM-side edits of the link win.
    Plm,
    /// The DAM value is written to the PLM link.
    Dam,
    /// Three-way against the last synced value; a change on both sides is a conflict.
    Newest,
}

impl Side {
    /// The name used in mapping files.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Plm => "plm",
            Side::Dam => "dam",
        }
    }
}

impl Entity {
    /// The name used in mapping files and as the key of [`RemoteSchema::entities`].
    pub fn as_str(self) -> &'static str {
        match self {
            Entity::Part => "part",
            Entity::Link => "link",
            Entity::Asset => "asset",
        }
    }

    /// The side whose records this entity names.
    pub fn side(self) -> Side {
        match self {
            Entity::Part | Entity::Link => Side::Plm,
            Entity::Asset => Side::Dam,
        }
    }
}

impl Owner {
    /// The name used in mapping files.
    pub fn as_str(self) -> &'static str {
        match self {
            Owner::Plm => "plm",
            Owner::Dam => "dam",
            Owner::Newest => "newest",
        }
    }
}

macro_rules! display_as_str {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    )*};
}
display_as_str!(Side, Entity, Owner);

/// One conversion step of a field's value (see `docs/mappings.md`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transform {
    /// Strips surrounding whitespace (both directions).
    Trim,
    /// Upper-cases (both directions).
    Upper,
    /// Lower-cases (both directions).
    Lower,
    /// Remote value → canonical value; unmapped values pass through. The inverse maps a
    /// canonical value to the first remote key (sorted order) with that value.
    ValueMap(BTreeMap<String, String>),
    /// Remote words → `"true"`/`"false"`, case-insensitive; the inverse writes each list's first
    /// word.
    Boolean {
        /// Words read as `true`; the first is written for `true`.
        true_words: Vec<String>,
        /// Words read as `false`; the first is written for `false`.
        false_words: Vec<String>,
    },
    /// Remote text in this chrono format ↔ canonical `YYYY-MM-DD`. RFC 3339 timestamps are
    /// accepted on read too.
    Date {
        /// A chrono `strftime` format such as `%d.%m.%Y`.
        format: String,
    },
    /// Truncates to at most this many UTF-8 bytes at a character boundary, on write only.
    MaxLength(usize),
}

/// One `[[field]]` of a mapping file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldMapping {
    /// partreel's field name (a [`KNOWN_CANONICAL`] name or `x_…`).
    pub canonical: String,
    /// The remote record it lives on.
    pub entity: Entity,
    /// The remote property name.
    pub remote: String,
    /// The declared owner, if any (see [`MappingSet::owner`] for the default).
    pub owner: Option<Owner>,
    /// Conversion steps, remote → canonical order.
    pub transforms: Vec<Transform>,
    /// A record lacking the value (after transforms) is rejected.
    pub required: bool,
    /// 1-based line of the field's `remote = …` entry in the file.
    pub line: usize,
}

/// One parsed and validated mapping file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// The connector type this mapping is for (`windchill`, `bynder`, …).
    pub system: String,
    /// PLM or DAM.
    pub side: Side,
    /// The fields, in file order.
    pub fields: Vec<FieldMapping>,
    /// Where the mapping was read from (used in error locations).
    pub path: PathBuf,
}

/// A problem in a mapping file, with its location.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}:{column}: {key}: {message}", file.display())]
pub struct MappingError {
    /// The mapping file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// Path of the offending key, e.g. `field[3].transforms[1]`.
    pub key: String,
    /// What is wrong and what was expected.
    pub message: String,
}

/// Every problem found in one go; displayed one per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingErrors(pub Vec<MappingError>);

impl fmt::Display for MappingErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for MappingErrors {}

/// A record's value that could not be converted, naming the canonical and the remote field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field `{canonical}` (remote `{remote}`): {message}")]
pub struct FieldError {
    /// Canonical field name.
    pub canonical: String,
    /// Remote property name.
    pub remote: String,
    /// What went wrong, quoting the value.
    pub message: String,
}

impl Mapping {
    /// Reads, parses and validates a mapping file (no schema check); every problem at once.
    pub fn load(path: &Path) -> Result<Mapping, MappingErrors> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text, path),
            Err(e) => Err(MappingErrors(vec![MappingError {
                file: path.to_path_buf(),
                line: 1,
                column: 1,
                key: "file".into(),
                message: format!("cannot read the mapping file: {e}"),
            }])),
        }
    }

    /// Parses and validates mapping text; `path` is used for error locations only.
    pub fn parse(text: &str, path: &Path) -> Result<Mapping, MappingErrors> {
        parse::parse(text, path)
    }

    /// The remote property names of an entity, in file order without repeats (for `$select`).
    pub fn remote_names(&self, entity: Entity) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for f in self.fields_for(entity) {
            if !names.contains(&f.remote) {
                names.push(f.remote.clone());
            }
        }
        names
    }

    /// The fields mapped on an entity, in file order.
    pub fn fields_for(&self, entity: Entity) -> impl Iterator<Item = &FieldMapping> {
        self.fields.iter().filter(move |f| f.entity == entity)
    }

    /// Converts a remote record of `entity` to canonical values. Blank values count as absent;
    /// a required field that ends up absent, or a value a transform rejects, is an error.
    pub fn to_canonical(
        &self,
        entity: Entity,
        remote: &RemoteFields,
    ) -> Result<CanonicalValues, Vec<FieldError>> {
        transform::to_canonical(self, entity, remote)
    }

    /// Converts canonical values to remote properties of `entity`. Only fields present in
    /// `values` are written; a canonical `""` clears the property (remote `""`).
    pub fn to_remote(
        &self,
        entity: Entity,
        values: &CanonicalValues,
    ) -> Result<RemoteFields, Vec<FieldError>> {
        transform::to_remote(self, entity, values)
    }

    /// True when partreel writes this field's remote property (link fields always; asset
    /// fields it derives or the PLM owns), judged by the field's own declared owner.
    pub fn writes(&self, f: &FieldMapping) -> bool {
        validate::is_written(f, f.owner)
    }

    /// Checks every field against the remote schema: the property must exist on its entity
    /// (errors list up to 5 close names) and must be writable when partreel writes it.
    pub fn validate_against(&self, schema: &RemoteSchema) -> Vec<MappingError> {
        validate::against_schema(self, schema, |f| f.owner)
    }
}

/// The PLM and DAM mapping files of one deployment, checked together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingSet {
    /// The PLM side.
    pub plm: Mapping,
    /// The DAM side.
    pub dam: Mapping,
}

impl MappingSet {
    /// Pairs two mappings: `plm` must be a PLM file and `dam` a DAM file, and a canonical field
    /// whose owner both files declare must declare the same one (errors name both locations).
    pub fn new(plm: Mapping, dam: Mapping) -> Result<MappingSet, MappingErrors> {
        validate::check_set(&plm, &dam)?;
        Ok(MappingSet { plm, dam })
    }

    /// The owner of a canonical field: as declared in either file; otherwise `plm` when the PLM
    /// file maps it on a `part`, else `dam`.
    pub fn owner(&self, canonical: &str) -> Owner {
        let all = self.plm.fields.iter().chain(&self.dam.fields);
        if let Some(o) = all
            .filter(|f| f.canonical == canonical)
            .find_map(|f| f.owner)
        {
            return o;
        }
        let on_part = self
            .plm
            .fields_for(Entity::Part)
            .any(|f| f.canonical == canonical);
        if on_part { Owner::Plm } else { Owner::Dam }
    }

    /// Every canonical field either file maps.
    pub fn canonical_fields(&self) -> BTreeSet<String> {
        self.plm
            .fields
            .iter()
            .chain(&self.dam.fields)
            .map(|f| f.canonical.clone())
            .collect()
    }

    /// [`Mapping::validate_against`] for both files, deciding which asset fields are written by
    /// the owners resolved across both files.
    pub fn validate_against(&self, plm: &RemoteSchema, dam: &RemoteSchema) -> Vec<MappingError> {
        let owner = |f: &FieldMapping| Some(self.owner(&f.canonical));
        let mut errors = validate::against_schema(&self.plm, plm, owner);
        errors.extend(validate::against_schema(&self.dam, dam, owner));
        errors
    }
}
