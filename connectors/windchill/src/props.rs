//! Property tests of what this connector parses from Windchill: OData Part and Document
//! records (pages of `ProdMgmt/Parts`, `DocMgmt/Documents`) and the `$metadata` EDMX (XML,
//! with `BaseType` chains), the collection page around them (`value`, `@odata.nextLink`), the
//! CSRF nonce and OData error bodies, `$batch` answers (multipart), and the typed values
//! written to soft attributes.
//! Properties: never panic, never loop (a `BaseType` cycle ends with an error); a rejected record
//! names its `ID`; every property read from `$metadata` was declared on the type or one of its
//! bases; a followed `@odata.nextLink` never leaves the configured service; a typed value
//! written then read back compares equal to what was written. Run longer with
//! `scripts/props.sh`; add a target as one more `prop_…` test below, with this vocabulary.

use partreel_testkit::props::{bytes, deep, json, json_text, mutated, odd_text, record};
use proptest::prelude::*;
use serde_json::{Value, json};
use url::Url;

use crate::convert::{link, part, text};
use crate::metadata::{derived_types, properties};
use crate::odata::next_link;
use crate::typed;
use crate::wire::{Collection, CsrfToken, ErrorBody};

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

/// A collection page's and an error body's vocabulary, with the records'.
const PAGE_KEYS: &[&str] = &[
    "value",
    "@odata.nextLink",
    "@odata.context",
    "@odata.count",
    "error",
    "code",
    "message",
    "NonceKey",
    "NonceValue",
    "ID",
    "Number",
    "Revision",
    "State",
    "Value",
    "LastModified",
    "PartreelLinkId",
];

/// The configured service of the `next_link` target.
const BASE: &str = "https://plm.example.com/Windchill/servlet/odata";

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

    #[test]
    fn prop_collection_pages_never_panic(text in prop_oneof![json_text(PAGE_KEYS), bytes().prop_map(|b| String::from_utf8_lossy(&b).into_owned())]) {
        if let Ok(page) = serde_json::from_str::<Collection>(&text) {
            for rec in &page.value {
                check(rec);
            }
            if let Some(next) = page.next_link {
                let base = Url::parse(BASE).expect("base");
                let _ = next_link(&base, &next, false);
                let _ = next_link(&base, &next, true);
            }
        }
        let _ = serde_json::from_str::<ErrorBody>(&text);
        let _ = serde_json::from_str::<CsrfToken>(&text);
    }

    #[test]
    fn prop_deep_records_never_panic(v in deep(PART_KEYS)) {
        check(&v);
        let _ = text(&v);
    }

    #[test]
    fn prop_next_links_never_leave_the_service(
        link in prop_oneof![
            (
                proptest::sample::select(&["https", "http", "ftp", "HTTPS", ""][..]),
                proptest::sample::select(&["plm.example.com", "PLM.example.com", "plm.example.com:443", "plm.example.com:8443", "evil.example", "plm.example.com.evil", "user@evil.example", ""][..]),
                proptest::sample::select(&["/Windchill/servlet/odata", "/Windchill/servlet/odataX", "/Windchill/servlet", "/Windchill/servlet/odata/../../x", "/other", "", "/Windchill/servlet/odata/%2e%2e/x"][..]),
                "[A-Za-z0-9/?&=$'()%.:_-]{0,30}",
            )
                .prop_map(|(scheme, host, path, rest)| {
                    if scheme.is_empty() {
                        format!("{path}{rest}")
                    } else {
                        format!("{scheme}://{host}{path}{rest}")
                    }
                }),
            odd_text(),
        ],
        rebase in any::<bool>(),
    ) {
        let base = Url::parse(BASE).expect("base");
        if let Ok(u) = next_link(&base, &link, rebase) {
            prop_assert_eq!(u.scheme(), base.scheme(), "{}", link);
            prop_assert_eq!(u.host_str(), base.host_str(), "{}", link);
            prop_assert_eq!(u.port_or_known_default(), base.port_or_known_default(), "{}", link);
            prop_assert!(u.path().starts_with(base.path()), "{} -> {}", link, u);
        }
    }

    #[test]
    fn prop_typed_values_read_back_as_written(
        kind in proptest::sample::select(&[
            "Edm.String", "", "Edm.Boolean", "Edm.Int16", "Edm.Int32", "Edm.Int64", "Edm.Byte",
            "Edm.Double", "Edm.Single", "Edm.Decimal", "Edm.DateTimeOffset", "Edm.Date", "PTC.EnumType",
        ][..]),
        written in prop_oneof![
            odd_text(),
            proptest::sample::select(&["true", "Yes", "n", "0", "1", "-0", "+7", " 42 ", "4.50", "1e3", "NaN", "inf", "2026-12-31", "2026-12-31T10:00:00+01:00", "2026-02-30"][..]).prop_map(str::to_string),
            any::<i64>().prop_map(|n| n.to_string()),
            any::<f64>().prop_map(|f| f.to_string()),
        ],
    ) {
        match typed::value(kind, &written) {
            Ok(v) => {
                // What a read gives back for the value written (null: the property cleared).
                let read = text(&v).unwrap_or_default();
                prop_assert!(
                    v.is_null() || typed::same(kind, &read, &written),
                    "{kind}: wrote {written:?}, read {read:?}"
                );
            }
            Err(e) => prop_assert!(e.contains(kind), "the error names the type: {e}"),
        }
    }

    #[test]
    fn prop_next_links_stay_under_the_base_path(
        sibling in "[A-Za-z0-9_-]{1,8}",
        rest in "(/[A-Za-z0-9()'$=?&]{0,12}){0,3}",
        rebase in any::<bool>(),
    ) {
        // `odata::next_link` promises a continuation "under the base path"; `/odataX` shares
        // the base path's text but is a sibling, not under it.
        let base = Url::parse(BASE).expect("base");
        let link = format!("{BASE}{sibling}{rest}");
        if let Ok(u) = next_link(&base, &link, rebase) {
            let under = u.path() == base.path() || u.path().starts_with(&format!("{}/", base.path()));
            prop_assert!(under, "{} was followed", u);
        }
    }

    #[test]
    fn prop_batch_answers_never_panic_and_keep_each_answer(
        raw in bytes(),
        statuses in proptest::collection::vec(100u16..600, 1..6),
        body in odd_text(),
        cut in any::<usize>(),
        crlf in any::<bool>(),
    ) {
        // Arbitrary bytes under a multipart content type: an error or answers, never a panic.
        let _ = crate::batch::decode("multipart/mixed; boundary=b", &raw);
        // A well-formed answer (a change set part per success, the failure alone otherwise)
        // reads back every answer under its Content-ID; cut anywhere, it never panics.
        let nl = if crlf { "\r\n" } else { "\n" };
        let mut text = String::new();
        for (i, st) in statuses.iter().enumerate() {
            let id = i + 1;
            let http = format!(
                "Content-Type: application/http{nl}Content-ID: {id}{nl}{nl}HTTP/1.1 {st} X{nl}{nl}{}{nl}",
                body.replace("--", "")
            );
            if (200..300).contains(st) {
                text.push_str(&format!(
                    "--b{nl}Content-Type: multipart/mixed; boundary=c{id}{nl}{nl}--c{id}{nl}{http}--c{id}--{nl}"
                ));
            } else {
                text.push_str(&format!("--b{nl}{http}"));
            }
        }
        text.push_str(&format!("--b--{nl}"));
        let answers = crate::batch::decode("multipart/mixed; boundary=b", text.as_bytes())
            .map_err(|e| TestCaseError::fail(format!("{e}: {text:?}")))?;
        prop_assert_eq!(answers.len(), statuses.len());
        for (i, st) in statuses.iter().enumerate() {
            prop_assert_eq!(answers[&(i + 1)].status, *st);
        }
        let at = cut % (text.len() + 1);
        if text.is_char_boundary(at) {
            let _ = crate::batch::decode("multipart/mixed; boundary=b", &text.as_bytes()[..at]);
        }
    }
}
