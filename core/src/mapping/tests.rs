//! Unit tests for the mapping engine: parsing and its error locations, transforms both ways,
//! record conversion, schema checks, owner resolution and the shipped default files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::*;
use crate::connector::{PropertyInfo, RemoteSchema};

const HEADER: &str = "system = \"windchill\"\nside = \"plm\"\n";

fn parse(text: &str) -> Result<Mapping, MappingErrors> {
    Mapping::parse(text, Path::new("m.toml"))
}

/// Parses text that must be rejected; returns (line, column, key, message) per error.
fn errors(text: &str) -> Vec<(usize, usize, String, String)> {
    match parse(text) {
        Ok(m) => panic!("expected errors, parsed {m:?}"),
        Err(e) => {
            e.0.into_iter()
                .map(|e| (e.line, e.column, e.key, e.message))
                .collect()
        }
    }
}

fn one_field(transforms: &str) -> Mapping {
    let text = format!(
        "{HEADER}[[field]]\ncanonical = \"x_f\"\nentity = \"link\"\nremote = \"F\"\ntransforms = {transforms}\n"
    );
    parse(&text).unwrap_or_else(|e| panic!("{e}"))
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn read(m: &Mapping, remote: &str) -> Result<Option<String>, Vec<FieldError>> {
    let v = m.to_canonical(Entity::Link, &map(&[("F", remote)]))?;
    Ok(v.get("x_f").cloned())
}

fn write(m: &Mapping, canonical: &str) -> Result<String, Vec<FieldError>> {
    let v = m.to_remote(Entity::Link, &map(&[("x_f", canonical)]))?;
    Ok(v["F"].clone())
}

#[test]
fn each_transform_both_ways() {
    // (transforms, remote value, canonical read, canonical to write, remote written)
    let table: &[(&str, &str, &str, &str, &str)] = &[
        (r#"["trim"]"#, "  a b ", "a b", " c ", "c"),
        (r#"["upper"]"#, "ab-1", "AB-1", "cd", "CD"),
        (r#"["lower"]"#, "AB", "ab", "CD", "cd"),
        (r#"["trim", "upper"]"#, " ab ", "AB", "cd", "CD"),
        (
            r#"[{ value_map = { RELEASED = "Released", INWORK = "In Work" } }]"#,
            "INWORK",
            "In Work",
            "Released",
            "RELEASED",
        ),
        (
            r#"[{ boolean = { true = ["Yes", "Y", "1"], false = ["No", "N", "0"] } }]"#,
            "y",
            "true",
            "false",
            "No",
        ),
        (
            r#"[{ boolean = { true = ["Yes"], false = ["No"] } }]"#,
            " NO ",
            "false",
            "TRUE",
            "Yes",
        ),
        (
            r#"[{ date = { format = "%d.%m.%Y" } }]"#,
            "31.12.2026",
            "2026-12-31",
            "2027-01-05",
            "05.01.2027",
        ),
        (
            r#"[{ date = { format = "%d.%m.%Y" } }]"#,
            "2026-12-31T23:30:00+01:00",
            "2026-12-31",
            "2026-02-28",
            "28.02.2026",
        ),
        (
            r#"[{ max_length = 3 }]"#,
            "abcdef",
            "abcdef",
            "abcdef",
            "abc",
        ),
        (r#"[{ max_length = 3 }]"#, "x", "x", "aé", "aé"),
        (r#"[{ max_length = 2 }]"#, "x", "x", "aé", "a"),
        (r#"[{ max_length = 4 }]"#, "x", "x", "日本", "日"),
    ];
    for (transforms, remote, canonical, to_write, written) in table {
        let m = one_field(transforms);
        let got = read(&m, remote).unwrap();
        assert_eq!(
            got.as_deref(),
            Some(*canonical),
            "{transforms} read {remote:?}"
        );
        let got = write(&m, to_write).unwrap();
        assert_eq!(&got, written, "{transforms} write {to_write:?}");
    }
}

#[test]
fn value_map_passes_unmapped_values_through() {
    let m = one_field(r#"[{ value_map = { RELEASED = "Released" } }]"#);
    assert_eq!(read(&m, "OBSOLETE").unwrap().as_deref(), Some("OBSOLETE"));
    assert_eq!(write(&m, "Obsolete").unwrap(), "Obsolete");
}

#[test]
fn value_map_inverse_picks_first_remote_key() {
    let m = one_field(r#"[{ value_map = { B = "Same", A = "Same" } }]"#);
    assert_eq!(write(&m, "Same").unwrap(), "A");
}

#[test]
fn boolean_unknown_word_is_an_error_naming_field_and_value() {
    let m = one_field(r#"[{ boolean = { true = ["Yes"], false = ["No"] } }]"#);
    let errs = read(&m, "Maybe").unwrap_err();
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].canonical, "x_f");
    assert_eq!(errs[0].remote, "F");
    let shown = errs[0].to_string();
    assert!(shown.contains("x_f") && shown.contains("`F`") && shown.contains("\"Maybe\""));
    let errs = write(&m, "perhaps").unwrap_err();
    assert!(errs[0].message.contains("\"perhaps\""));
}

#[test]
fn date_round_trip_and_bad_dates() {
    let m = one_field(r#"[{ date = { format = "%d/%m/%Y" } }]"#);
    let canonical = read(&m, "29/02/2024").unwrap().unwrap();
    assert_eq!(canonical, "2024-02-29");
    assert_eq!(write(&m, &canonical).unwrap(), "29/02/2024");
    let e = read(&m, "2024-02-29").unwrap_err();
    assert!(e[0].message.contains("%d/%m/%Y"), "{}", e[0].message);
    assert!(write(&m, "29/02/2024").is_err());
}

#[test]
fn blank_values_are_absent_and_empty_canonical_clears() {
    let m = one_field(r#"["trim"]"#);
    assert_eq!(read(&m, "   ").unwrap(), None);
    assert_eq!(write(&m, "").unwrap(), "");
    let none = m.to_remote(Entity::Link, &map(&[])).unwrap();
    assert!(none.is_empty(), "only fields present in values are written");
    let other_entity = m.to_canonical(Entity::Part, &map(&[("F", "v")])).unwrap();
    assert!(other_entity.is_empty());
}

#[test]
fn required_missing_is_a_field_error_naming_it() {
    let text = format!(
        "{HEADER}[[field]]\ncanonical = \"link_id\"\nentity = \"link\"\nremote = \"PartreelLinkId\"\nrequired = true\n\n[[field]]\ncanonical = \"sku\"\nentity = \"link\"\nremote = \"Sku\"\nrequired = true\ntransforms = [{{ value_map = {{ NONE = \" \" }} }}]\n"
    );
    let m = parse(&text).unwrap();
    let errs = m
        .to_canonical(
            Entity::Link,
            &map(&[("PartreelLinkId", ""), ("Sku", "NONE")]),
        )
        .unwrap_err();
    assert_eq!(errs.len(), 2);
    assert_eq!(
        (errs[0].canonical.as_str(), errs[0].remote.as_str()),
        ("link_id", "PartreelLinkId")
    );
    assert!(errs[0].to_string().contains("link_id"));
    assert!(errs[1].message.contains("blank after transforms"));
    let ok = m
        .to_canonical(
            Entity::Link,
            &map(&[("PartreelLinkId", "ptp-1"), ("Sku", "A")]),
        )
        .unwrap();
    assert_eq!(ok, map(&[("link_id", "ptp-1"), ("sku", "A")]));
}

#[test]
fn parse_reads_every_key() {
    let text = format!(
        "{HEADER}[[field]]\ncanonical = \"sku\"\nentity = \"part\"\nremote = \"Sku\"\nowner = \"plm\"\ntransforms = [\"trim\", {{ max_length = 9 }}]\nrequired = true\n"
    );
    let m = parse(&text).unwrap();
    assert_eq!((m.system.as_str(), m.side), ("windchill", Side::Plm));
    assert_eq!(m.path, PathBuf::from("m.toml"));
    assert_eq!(
        m.fields,
        vec![FieldMapping {
            canonical: "sku".into(),
            entity: Entity::Part,
            remote: "Sku".into(),
            owner: Some(Owner::Plm),
            transforms: vec![Transform::Trim, Transform::MaxLength(9)],
            required: true,
            line: 6,
        }]
    );
    assert_eq!(m.remote_names(Entity::Part), vec!["Sku".to_string()]);
    assert!(m.remote_names(Entity::Link).is_empty());
    assert_eq!(m.fields_for(Entity::Part).count(), 1);
}

/// A field whose one line `line` (the 7th of the file) is given; the header is lines 1–6.
fn with_line(line: &str) -> String {
    format!(
        "{HEADER}\n[[field]]\ncanonical = \"sku\"\nentity = \"link\"\n{line}\nremote = \"Sku\"\n"
    )
}

#[test]
fn parse_errors_point_at_line_and_column() {
    let cases: &[(&str, usize, usize, &str, &str)] = &[
        (
            r#"transforms = ["trim", "uper"]"#,
            7,
            23,
            "field[0].transforms[1]",
            "unknown transform `uper`",
        ),
        (
            r#"transforms = [{ valuemap = { A = "b" } }]"#,
            7,
            17,
            "field[0].transforms[0]",
            "did you mean `value_map`?",
        ),
        (
            "remot = \"Sku\"",
            7,
            1,
            "field[0].remot",
            "unknown key `remot`",
        ),
        (
            "owner = \"nobody\"",
            7,
            9,
            "field[0].owner",
            "expected one of: \"plm\", \"dam\", \"newest\"",
        ),
        (
            "required = \"yes\"",
            7,
            12,
            "field[0].required",
            "expected true or false",
        ),
        (
            r#"transforms = [{ boolean = { true = ["Y"], false = "N" } }]"#,
            7,
            51,
            "field[0].transforms[0].boolean.false",
            "non-empty list",
        ),
        (
            r#"transforms = [{ date = { format = "%Q" } }]"#,
            7,
            35,
            "field[0].transforms[0].date.format",
            "not a chrono date format",
        ),
        (
            r#"transforms = [{ max_length = 0 }]"#,
            7,
            30,
            "field[0].transforms[0].max_length",
            "positive whole number",
        ),
        (
            r#"transforms = ["value_map"]"#,
            7,
            15,
            "field[0].transforms[0]",
            "needs arguments",
        ),
    ];
    for (line, l, c, key, msg) in cases {
        let errs = errors(&with_line(line));
        assert_eq!(errs.len(), 1, "{line}: {errs:?}");
        let (el, ec, ek, em) = &errs[0];
        assert_eq!((el, ec, ek.as_str()), (l, c, *key), "{line}: {em}");
        assert!(em.contains(msg), "{line}: {em}");
    }
}

#[test]
fn unknown_canonical_points_at_the_value() {
    let text =
        format!("{HEADER}[[field]]\ncanonical = \"skuu\"\nentity = \"part\"\nremote = \"S\"\n");
    let errs = errors(&text);
    assert_eq!(errs.len(), 1);
    assert_eq!(
        (errs[0].0, errs[0].1, errs[0].2.as_str()),
        (4, 13, "field[0].canonical")
    );
    assert!(errs[0].3.contains("did you mean `sku`?"), "{}", errs[0].3);
}

#[test]
fn toml_syntax_error_has_its_position() {
    let errs = errors("system = \"windchill\"\nside = plm\n");
    assert_eq!(errs[0].2, "syntax");
    assert_eq!((errs[0].0, errs[0].1), (2, 8));
    assert!(errs[0].3.starts_with("TOML syntax error"));
}

#[test]
fn mapping_error_display() {
    let e = MappingError {
        file: "m.toml".into(),
        line: 3,
        column: 7,
        key: "field[3].transforms[1]".into(),
        message: "unknown transform".into(),
    };
    assert_eq!(
        e.to_string(),
        "m.toml:3:7: field[3].transforms[1]: unknown transform"
    );
    let both = MappingErrors(vec![e.clone(), e]);
    assert_eq!(both.to_string().lines().count(), 2);
}

#[test]
fn all_errors_are_reported_at_once() {
    let text = "system = \"windchill\"\nside = \"plm\"\n\n[[field]]\ncanonical = \"bogus\"\nentity = \"link\"\nremote = \"A\"\n\n[[field]]\ncanonical = \"sku\"\nentity = \"link\"\nremote = \"B\"\ntransforms = [\"nope\"]\n\n[[field]]\ncanonical = \"model\"\nentity = \"link\"\nremote = \"C\"\ncolour = \"red\"\n";
    let errs = errors(text);
    let keys: Vec<(usize, &str)> = errs.iter().map(|e| (e.0, e.2.as_str())).collect();
    assert_eq!(
        keys,
        vec![
            (5, "field[0].canonical"),
            (13, "field[1].transforms[0]"),
            (19, "field[2].colour"),
        ]
    );
}

#[test]
fn structural_errors() {
    // (text, expected key, expected message fragment)
    let cases: &[(&str, &str, &str)] = &[
        (
            "side = \"plm\"\n[[field]]\ncanonical = \"sku\"\nentity = \"part\"\nremote = \"S\"\n",
            "system",
            "missing key `system`",
        ),
        ("system = \"w\"\nside = \"plm\"\n", "field", "no [[field]]"),
        (
            "system = \"w\"\nside = \"pdm\"\n[[field]]\ncanonical = \"sku\"\nentity = \"part\"\nremote = \"S\"\n",
            "side",
            "unknown value \"pdm\"",
        ),
        (
            "system = \"w\"\nside = \"dam\"\n[[field]]\ncanonical = \"sku\"\nentity = \"part\"\nremote = \"S\"\n",
            "field[0].entity",
            "does not exist on a dam side",
        ),
        (
            "system = \"w\"\nside = \"plm\"\n[[field]]\ncanonical = \"sku\"\nentity = \"part\"\nremote = \" \"\n",
            "field[0].remote",
            "must name the remote property",
        ),
        (
            "system = \"w\"\nside = \"plm\"\n[[field]]\ncanonical = \"sku\"\nentity = \"part\"\n",
            "field[0]",
            "missing key `remote`",
        ),
        (
            "system = \"w\"\nside = \"plm\"\n[[field]]\ncanonical = \"link_id\"\nentity = \"part\"\nremote = \"L\"\n",
            "field[0].canonical",
            "computed by partreel",
        ),
        (
            "system = \"w\"\nside = \"plm\"\n[[field]]\ncanonical = \"link_id\"\nentity = \"link\"\nremote = \"L\"\nowner = \"plm\"\n",
            "field[0].owner",
            "remove `owner`",
        ),
        (
            "system = \"w\"\nside = \"plm\"\n[[field]]\ncanonical = \"x_Bad\"\nentity = \"link\"\nremote = \"L\"\n",
            "field[0].canonical",
            "custom field",
        ),
        (
            "system = \"w\"\nside = \"plm\"\n[[field]]\ncanonical = \"sku\"\nentity = \"link\"\nremote = \"A\"\n[[field]]\ncanonical = \"sku\"\nentity = \"link\"\nremote = \"B\"\n",
            "field[1].canonical",
            "already mapped on entity link (line 6)",
        ),
        (
            "system = \"w\"\nside = \"plm\"\n[[field]]\ncanonical = \"sku\"\nentity = \"link\"\nremote = \"A\"\n[[field]]\ncanonical = \"model\"\nentity = \"link\"\nremote = \"A\"\n",
            "field[1].remote",
            "already mapped",
        ),
        (
            "system = \"w\"\nside = \"plm\"\n[[field]]\ncanonical = \"sku\"\nentity = \"link\"\nremote = \"A\"\nowner = \"dam\"\n[[field]]\ncanonical = \"sku\"\nentity = \"part\"\nremote = \"A\"\nowner = \"plm\"\n",
            "field[1].owner",
            "declared with owner \"dam\"",
        ),
        (
            "system = \"w\"\nside = \"plm\"\n[[field]]\ncanonical = \"sku\"\nentity = \"link\"\nremote = \"A\"\ntransforms = [{ boolean = { true = [\"Y\"], false = [\"y\"] } }]\n",
            "field[0].transforms[0].boolean",
            "in both",
        ),
        (
            "system = \"w\"\nside = \"plm\"\n[[field]]\ncanonical = \"sku\"\nentity = \"link\"\nremote = \"A\"\ntransforms = [{ max_length = 3, trim = 1 }]\n",
            "field[0].transforms[0]",
            "exactly one transform",
        ),
        (
            "system = \"w\"\nside = \"plm\"\n[[field]]\ncanonical = \"sku\"\nentity = \"link\"\nremote = \"A\"\ntransforms = [{ value_map = { A = 1 } }]\n",
            "field[0].transforms[0].value_map.A",
            "expected a string",
        ),
        (
            "system = \"w\"\nside = \"plm\"\nfield = 3\n",
            "field",
            "[[field]] tables",
        ),
    ];
    for (text, key, msg) in cases {
        let errs = errors(text);
        assert!(
            errs.iter().any(|e| e.2 == *key && e.3.contains(msg)),
            "{text}\nwanted {key}: {msg}\ngot {errs:?}"
        );
    }
}

fn schema(entity: &str, props: &[(&str, bool)]) -> RemoteSchema {
    let mut s = RemoteSchema::default();
    let props = props
        .iter()
        .map(|(name, writable)| PropertyInfo {
            name: name.to_string(),
            kind: "Edm.String".into(),
            writable: *writable,
        })
        .collect();
    s.entities.insert(entity.into(), props);
    s
}

#[test]
fn validate_against_unknown_remote_suggests_close_names() {
    let text = format!(
        "{HEADER}[[field]]\ncanonical = \"sku\"\nentity = \"link\"\nremote = \"SKU_Code\"\n"
    );
    let m = parse(&text).unwrap();
    let s = schema(
        "link",
        &[
            ("SkuCode", true),
            ("Sku", true),
            ("Name", true),
            ("State", true),
        ],
    );
    let errs = m.validate_against(&s);
    assert_eq!(errs.len(), 1);
    assert_eq!((errs[0].line, errs[0].key.as_str()), (6, "field[0].remote"));
    assert!(
        errs[0].message.contains("close names: SkuCode"),
        "{}",
        errs[0].message
    );
    assert!(!errs[0].message.contains("State"), "{}", errs[0].message);

    let errs = m.validate_against(&schema("part", &[("Sku", true)]));
    assert!(
        errs[0].message.contains("no entity \"link\""),
        "{}",
        errs[0].message
    );
}

#[test]
fn validate_against_checks_writable_only_where_partreel_writes() {
    let text = format!(
        "{HEADER}[[field]]\ncanonical = \"sku\"\nentity = \"part\"\nremote = \"Sku\"\n[[field]]\ncanonical = \"model\"\nentity = \"link\"\nremote = \"Model\"\n"
    );
    let m = parse(&text).unwrap();
    let mut s = schema("part", &[("Sku", false)]);
    s.entities
        .extend(schema("link", &[("Model", false)]).entities);
    let errs = m.validate_against(&s);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].message.contains("read-only"));
    assert_eq!(errs[0].key, "field[1].remote");
}

fn pair(plm_fields: &str, dam_fields: &str) -> (Mapping, Mapping) {
    let plm = Mapping::parse(&format!("{HEADER}{plm_fields}"), Path::new("plm.toml")).unwrap();
    let dam = Mapping::parse(
        &format!("system = \"bynder\"\nside = \"dam\"\n{dam_fields}"),
        Path::new("dam.toml"),
    )
    .unwrap();
    (plm, dam)
}

#[test]
fn mapping_set_owner_resolution() {
    let (plm, dam) = pair(
        "[[field]]\ncanonical = \"part_name\"\nentity = \"part\"\nremote = \"Name\"\n\
         [[field]]\ncanonical = \"campaign\"\nentity = \"link\"\nremote = \"Campaign\"\n\
         [[field]]\ncanonical = \"prompt\"\nentity = \"link\"\nremote = \"Prompt\"\n",
        "[[field]]\ncanonical = \"campaign\"\nentity = \"asset\"\nremote = \"Campaign\"\nowner = \"newest\"\n\
         [[field]]\ncanonical = \"prompt\"\nentity = \"asset\"\nremote = \"Prompt\"\n\
         [[field]]\ncanonical = \"x_extra\"\nentity = \"asset\"\nremote = \"Extra\"\nowner = \"plm\"\n",
    );
    let set = MappingSet::new(plm, dam).unwrap();
    assert_eq!(
        set.owner("campaign"),
        Owner::Newest,
        "declared in the DAM file"
    );
    assert_eq!(set.owner("part_name"), Owner::Plm, "read from the part");
    assert_eq!(set.owner("prompt"), Owner::Dam, "default");
    assert_eq!(set.owner("x_extra"), Owner::Plm);
    assert_eq!(set.owner("unmapped"), Owner::Dam);
    let names: Vec<String> = set.canonical_fields().into_iter().collect();
    assert_eq!(names, ["campaign", "part_name", "prompt", "x_extra"]);
}

#[test]
fn mapping_set_rejects_conflicting_owners_and_wrong_sides() {
    let (plm, dam) = pair(
        "[[field]]\ncanonical = \"campaign\"\nentity = \"link\"\nremote = \"Campaign\"\nowner = \"plm\"\n",
        "\n[[field]]\ncanonical = \"campaign\"\nentity = \"asset\"\nremote = \"Campaign\"\nowner = \"dam\"\n",
    );
    let errs = MappingSet::new(plm.clone(), dam.clone()).unwrap_err().0;
    assert_eq!(errs.len(), 2);
    assert_eq!(
        (errs[0].file.as_path(), errs[0].line),
        (Path::new("plm.toml"), 6)
    );
    assert!(
        errs[0].message.contains("dam.toml:7"),
        "{}",
        errs[0].message
    );
    assert_eq!(
        (errs[1].file.as_path(), errs[1].line),
        (Path::new("dam.toml"), 7)
    );
    assert!(
        errs[1].message.contains("plm.toml:6"),
        "{}",
        errs[1].message
    );

    let errs = MappingSet::new(dam, plm).unwrap_err().0;
    assert!(errs.iter().filter(|e| e.key == "side").count() == 2);
}

fn default_file(name: &str) -> Mapping {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../mappings")
        .join(name);
    Mapping::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn default_mapping_files_load_and_pair() {
    let windchill = default_file("windchill.toml");
    let bynder = default_file("bynder.toml");
    assert_eq!(
        (windchill.system.as_str(), windchill.side),
        ("windchill", Side::Plm)
    );
    assert_eq!((bynder.system.as_str(), bynder.side), ("bynder", Side::Dam));
    assert_eq!(
        windchill.remote_names(Entity::Part),
        ["Name", "State", "Sku"].map(String::from)
    );
    // 16 link fields + the provenance reason, claim generator and file hash.
    assert_eq!(windchill.fields_for(Entity::Link).count(), 19);
    // 13 asset fields + the computed watermark flag and provenance state written back.
    assert_eq!(bynder.fields_for(Entity::Asset).count(), 15);

    let set = MappingSet::new(windchill, bynder).unwrap();
    assert_eq!(set.owner("sku"), Owner::Plm);
    assert_eq!(set.owner("campaign"), Owner::Newest);
    assert_eq!(set.owner("lifecycle_state"), Owner::Plm);
    assert_eq!(set.owner("prompt"), Owner::Dam);

    let part = set
        .plm
        .to_canonical(
            Entity::Part,
            &map(&[("Name", "Turbo"), ("State", "INWORK"), ("Sku", " acm-1 ")]),
        )
        .unwrap();
    assert_eq!(
        part,
        map(&[
            ("part_name", "Turbo"),
            ("lifecycle_state", "In Work"),
            ("sku", "ACM-1")
        ])
    );
    let asset = set
        .dam
        .to_remote(
            Entity::Asset,
            &map(&[
                ("visible_watermark", "true"),
                ("rights_expiry", "2027-01-31"),
            ]),
        )
        .unwrap();
    assert_eq!(
        asset,
        map(&[("RightsExpiry", "2027-01-31"), ("VisibleWatermark", "Yes")])
    );
}

#[test]
fn default_files_validate_against_a_matching_schema() {
    let windchill = default_file("windchill.toml");
    let mut s = RemoteSchema::default();
    for entity in [Entity::Part, Entity::Link] {
        let props = windchill
            .remote_names(entity)
            .into_iter()
            .map(|name| PropertyInfo {
                name,
                kind: "Edm.String".into(),
                writable: entity == Entity::Link,
            })
            .collect();
        s.entities.insert(entity.as_str().into(), props);
    }
    assert_eq!(windchill.validate_against(&s), vec![]);
}

#[test]
fn transform_display_is_mapping_syntax() {
    let transforms = vec![
        Transform::Trim,
        Transform::Upper,
        Transform::Lower,
        Transform::ValueMap(map(&[("IN WORK", "In \"Work\"")])),
        Transform::Boolean {
            true_words: vec!["Yes".into(), "Y".into()],
            false_words: vec!["No".into()],
        },
        Transform::Date {
            format: "%d.%m.%Y".into(),
        },
        Transform::MaxLength(5),
    ];
    let shown: Vec<String> = transforms.iter().map(ToString::to_string).collect();
    let m = one_field(&format!("[{}]", shown.join(", ")));
    assert_eq!(m.fields[0].transforms, transforms);
}
