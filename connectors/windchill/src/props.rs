//! Property tests of what this connector parses from Windchill: OData Part and Document
//! records (pages of `ProdMgmt/Parts`, `DocMgmt/Documents`) and the `$metadata` EDMX (XML,
//! with `BaseType` chains). Properties: never panic, never loop (a `BaseType` cycle ends with
//! an error); a rejected record names its `ID`; every property read from `$metadata` was
//! declared on the type or one of its bases. Run longer with `scripts/props.sh`.

use partreel_testkit::props::{bytes, json, mutated, odd_text, record};
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::convert::{link, part};
use crate::metadata::{derived_types, properties};

const PART_KEYS: &[&str] = &[
    "ID",
    "Number",
    "Name",
    "Revision",
    "Version",
    "State",
    "Value",
    "Display",
    "LastModified",
    "CreatedOn",
    "Sku",
    "@odata.type",
];

const DOC_KEYS: &[&str] = &[
    "ID",
    "Name",
    "PartreelLinkId",
    "Prompt",
    "LastModified",
    "CreatedOn",
    "@odata.type",
];

fn good_part() -> Value {
    json!({"ID": "OR:wt.part.WTPart:1", "Number": "TR-1001", "Name": "Turbo Racer",
           "Revision": "B", "State": {"Value": "INWORK", "Display": "In Work"},
           "LastModified": "2026-11-21T08:00:00Z", "Sku": "ACM-TR-1001-RD"})
}

fn good_doc() -> Value {
    json!({"ID": "OR:wt.doc.WTDocument:7", "Name": "chase", "PartreelLinkId": "ptp-1",
           "Prompt": "a chase", "LastModified": "2026-11-21T08:00:00Z",
           "CreatedOn": "2026-11-20T08:00:00Z"})
}

fn raw_id(v: &Value) -> Option<String> {
    v.get("ID").and_then(Value::as_str).map(str::to_string)
}

fn select() -> Vec<String> {
    ["Sku", "Prompt", "Name"].map(String::from).to_vec()
}

fn check(v: &Value) {
    if let Err(r) = part("windchill", v, &select()) {
        assert_eq!(
            r.id,
            raw_id(v),
            "the rejection names the part: {}",
            r.reason
        );
        assert!(!r.reason.is_empty());
    }
    match link(v, "PartreelLinkId", &select()) {
        Ok(Some(l)) => assert!(!l.link_id.0.trim().is_empty()),
        Ok(None) => {}
        Err(r) => assert_eq!(r.id, raw_id(v), "the rejection names the document"),
    }
}

/// EDMX documents built from the elements `$metadata` uses, with names drawn from a small set
/// so that `BaseType` chains (and cycles) form.
fn edmx() -> impl Strategy<Value = String> {
    let name =
        proptest::sample::select(&["Part", "Document", "WindchillEntity", "A", "B", "C"][..]);
    let prop = (
        "[A-Za-z]{1,8}",
        proptest::sample::select(&["Edm.String", "Edm.Double", "PTC.EnumType", ""][..]),
        any::<bool>(),
    )
        .prop_map(|(n, t, computed)| {
            let annotation = if computed {
                "<Annotation Term=\"Core.Computed\" Bool=\"true\"/>"
            } else {
                ""
            };
            format!("<Property Name=\"{n}\" Type=\"{t}\">{annotation}</Property>")
        });
    let ty = (
        name.clone(),
        proptest::option::of(name),
        proptest::collection::vec(prop, 0..5),
    )
        .prop_map(|(n, base, props)| {
            let base = base
                .map(|b| format!(" BaseType=\"NS.{b}\""))
                .unwrap_or_default();
            format!(
                "<EntityType Name=\"{n}\"{base}>{}</EntityType>",
                props.concat()
            )
        });
    (proptest::collection::vec(ty, 0..6), any::<bool>()).prop_map(|(types, alias)| {
        let alias = if alias { " Alias=\"NS\"" } else { "" };
        format!(
            "<edmx:Edmx xmlns:edmx=\"http://docs.oasis-open.org/odata/ns/edmx\" Version=\"4.0\">\
             <edmx:DataServices><Schema Namespace=\"NS\"{alias}>{}</Schema>\
             </edmx:DataServices></edmx:Edmx>",
            types.concat()
        )
    })
}

proptest! {
    #[test]
    fn prop_part_and_document_records_never_panic(v in record(PART_KEYS)) {
        check(&v);
    }

    #[test]
    fn prop_mutated_records_never_panic(v in prop_oneof![mutated(good_part(), PART_KEYS), mutated(good_doc(), DOC_KEYS)]) {
        check(&v);
    }

    #[test]
    fn prop_any_json_record_never_panics(v in json(DOC_KEYS)) {
        check(&v);
    }

    #[test]
    fn prop_metadata_of_any_bytes_never_panics(xml in bytes(), entity in odd_text()) {
        let _ = properties(&xml, &entity);
        let _ = derived_types(&xml, &entity);
    }

    #[test]
    fn prop_metadata_reads_declared_properties_and_ends(xml in edmx(), entity in proptest::sample::select(&["Part", "Document", "A", "B"][..])) {
        if let Ok(props) = properties(xml.as_bytes(), entity) {
            for p in &props {
                let declared = format!("<Property Name=\"{}\"", p.name);
                prop_assert!(xml.contains(&declared), "{} not declared", p.name);
            }
            let mut names: Vec<&str> = props.iter().map(|p| p.name.as_str()).collect();
            let n = names.len();
            names.dedup();
            prop_assert_eq!(names.len(), n, "a property listed twice");
        }
        if let Ok(derived) = derived_types(xml.as_bytes(), entity) {
            let mut sorted = derived.clone();
            sorted.sort();
            sorted.dedup();
            prop_assert_eq!(sorted, derived, "derived types sorted, each once");
        }
    }

    #[test]
    fn prop_cut_metadata_never_panics(cut in 0usize..2000, junk in odd_text()) {
        let doc = String::from("<edmx:Edmx><edmx:DataServices><Schema Namespace=\"PTC.ProdMgmt\" Alias=\"ProdMgmt\"><EntityType Name=\"Part\" BaseType=\"ProdMgmt.Part\"><Property Name=\"Number\" Type=\"Edm.String\"/></EntityType></Schema></edmx:DataServices></edmx:Edmx>");
        let at = cut.min(doc.len());
        let mut bytes = doc.as_bytes()[..at].to_vec();
        bytes.extend_from_slice(junk.as_bytes());
        let _ = properties(&bytes, "Part");
        let _ = derived_types(&bytes, "Part");
    }
}
