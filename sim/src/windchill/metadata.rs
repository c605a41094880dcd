//! The entity schema the Windchill emulator serves: property names and types of `Part` and
//! `Document`, and the EDMX/CSDL document of `GET {base}/{Domain}/$metadata`
//! (WindchillCustomizationUsingWRS.html, see docs/wire/windchill.md "Metadata").

/// OData type of a property, as far as the emulator distinguishes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EdmType {
    /// `Edm.String`.
    String,
    /// `Edm.DateTimeOffset`.
    DateTimeOffset,
    /// `Edm.Boolean`.
    Boolean,
    /// `PTC.EnumType`: `{"Value":…,"Display":…}`.
    Enum,
}

impl EdmType {
    fn name(self) -> &'static str {
        match self {
            EdmType::String => "Edm.String",
            EdmType::DateTimeOffset => "Edm.DateTimeOffset",
            EdmType::Boolean => "Edm.Boolean",
            EdmType::Enum => "PTC.EnumType",
        }
    }
}

/// A property: name, type, and whether the server computes it (clients cannot write it).
pub(crate) type PropDef = (&'static str, EdmType, bool);

use EdmType::{Boolean as B, DateTimeOffset as T, Enum as E, String as S};

/// Properties of `PTC.ProdMgmt.Part`.
pub(crate) const PART_PROPERTIES: &[PropDef] = &[
    ("ID", S, true),
    ("Number", S, true),
    ("Name", S, false),
    ("Version", S, true),
    ("Revision", S, true),
    ("Iteration", S, true),
    ("State", E, false),
    ("LastModified", T, true),
    ("CreatedOn", T, true),
    ("Latest", B, true),
    ("Sku", S, false),
];

/// Properties of a link document: WTDocument's own first ([`DOCUMENT_OWN`] of them), then the
/// IBAs partreel maps (`Partreel*`, asset, clip, provenance). Where the IBAs live is the
/// server's customisation: on a soft type of WTDocument, a derived entity type
/// (wccg_restapis_wcsubtypes_in_OData.html; the emulator's default, [`LINK_SOFT_TYPE`]), or on
/// WTDocument itself (WCCG_RESTAPIsCustomizingExamplesSoftAttribute.html, "extends":
/// "Document").
pub(crate) const DOCUMENT_PROPERTIES: &[PropDef] = &[
    ("ID", S, true),
    ("Number", S, true),
    ("Name", S, false),
    ("Description", S, false),
    ("LastModified", T, true),
    ("CreatedOn", T, true),
    ("State", E, false),
    ("PartreelLinkId", S, false),
    ("PartreelStatus", S, false),
    ("AssetId", S, false),
    ("AssetSystem", S, false),
    ("ClipUrl", S, false),
    ("Prompt", S, false),
    ("Model", S, false),
    ("ModelVersion", S, false),
    ("Campaign", S, false),
    ("ReviewStatus", S, false),
    ("RightsNotes", S, false),
    ("RightsExpiry", S, false),
    ("VisibleWatermark", B, false),
    ("WatermarkPreserved", B, false),
    ("ProvenanceState", S, false),
    ("ProvenanceReason", S, false),
    ("ClaimGenerator", S, false),
    ("FileSha256", S, false),
    ("Sku", S, false),
];

/// How many of [`DOCUMENT_PROPERTIES`] are WTDocument's own.
pub(crate) const DOCUMENT_OWN: usize = 7;

/// The emulator's soft type of WTDocument that carries the link IBAs: internal name
/// `com.acme.promptToPartLink`, which WRS names `PromptToPartLink` (domain prefix removed, first
/// letter capitalised: wccg_restapis_subtypeable_naming_convention.html).
pub(crate) const LINK_SOFT_TYPE: &str = "PromptToPartLink";

/// The properties of a document whose type does (`ibas`) or does not carry the link IBAs.
pub(crate) fn document_properties(ibas: bool) -> &'static [PropDef] {
    if ibas {
        DOCUMENT_PROPERTIES
    } else {
        &DOCUMENT_PROPERTIES[..DOCUMENT_OWN]
    }
}

/// The type of `name` in `props`.
pub(crate) fn prop_type(props: &[PropDef], name: &str) -> Option<EdmType> {
    props.iter().find(|p| p.0 == name).map(|p| p.1)
}

/// A WRS domain with its own `$metadata`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Domain {
    /// `ProdMgmt`: parts.
    ProdMgmt,
    /// `DocMgmt`: documents.
    DocMgmt,
}

fn entity_type(name: &str, props: &[PropDef], nav: &str) -> String {
    let mut s = format!("<EntityType Name=\"{name}\"><Key><PropertyRef Name=\"ID\"/></Key>");
    for (prop, ty, computed) in props {
        let nullable = if *prop == "ID" {
            " Nullable=\"false\""
        } else {
            ""
        };
        if *computed {
            s += &format!(
                "<Property Name=\"{prop}\" Type=\"{}\"{nullable}><Annotation Term=\"Org.OData.Core.V1.Computed\" Bool=\"true\"/></Property>",
                ty.name()
            );
        } else {
            s += &format!(
                "<Property Name=\"{prop}\" Type=\"{}\"{nullable}/>",
                ty.name()
            );
        }
    }
    s + nav + "</EntityType>"
}

/// A derived entity type: `BaseType`, no key of its own, the properties it adds.
fn derived_type(name: &str, base: &str, props: &[PropDef]) -> String {
    let mut s = format!("<EntityType Name=\"{name}\" BaseType=\"{base}\">");
    for (prop, ty, _) in props {
        s += &format!("<Property Name=\"{prop}\" Type=\"{}\"/>", ty.name());
    }
    s + "</EntityType>"
}

/// The EDMX document of one domain; `soft_type` names the derived entity type carrying the
/// link IBAs (None: they are WTDocument's own).
pub(crate) fn edmx(domain: Domain, soft_type: Option<&str>) -> String {
    let (namespace, body) = match domain {
        Domain::ProdMgmt => (
            "PTC.ProdMgmt",
            // A part's `DescribedBy` yields describe-link entities; each link's own
            // `DescribedBy` is the document, `Describes` the part (PTC Help Center,
            // example_sustainability_retrieve_enggmaterialpartdescribelinks.html).
            entity_type(
                "Part",
                PART_PROPERTIES,
                "<NavigationProperty Name=\"DescribedBy\" Type=\"Collection(PTC.ProdMgmt.PartDescribeLink)\"/>",
            ) + "<EntityType Name=\"PartDescribeLink\"><Key><PropertyRef Name=\"ID\"/></Key>\
<Property Name=\"ID\" Type=\"Edm.String\" Nullable=\"false\"/>\
<NavigationProperty Name=\"DescribedBy\" Type=\"PTC.DocMgmt.Document\"/>\
<NavigationProperty Name=\"Describes\" Type=\"PTC.ProdMgmt.Part\"/></EntityType>"
                + "<EntityContainer Name=\"Windchill\"><EntitySet Name=\"Parts\" EntityType=\"PTC.ProdMgmt.Part\"/></EntityContainer>",
        ),
        Domain::DocMgmt => (
            "PTC.DocMgmt",
            match soft_type {
                None => entity_type("Document", DOCUMENT_PROPERTIES, ""),
                Some(soft) => {
                    entity_type("Document", document_properties(false), "")
                        + &derived_type(
                            soft,
                            "PTC.DocMgmt.Document",
                            &DOCUMENT_PROPERTIES[DOCUMENT_OWN..],
                        )
                }
            } + "<EntityContainer Name=\"Windchill\"><EntitySet Name=\"Documents\" EntityType=\"PTC.DocMgmt.Document\"/></EntityContainer>",
        ),
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\
<edmx:Edmx Version=\"4.0\" xmlns:edmx=\"http://docs.oasis-open.org/odata/ns/edmx\">\
<edmx:DataServices>\
<Schema Namespace=\"PTC\" xmlns=\"http://docs.oasis-open.org/odata/ns/edm\">\
<ComplexType Name=\"EnumType\"><Property Name=\"Value\" Type=\"Edm.String\"/><Property Name=\"Display\" Type=\"Edm.String\"/></ComplexType>\
</Schema>\
<Schema Namespace=\"{namespace}\" xmlns=\"http://docs.oasis-open.org/odata/ns/edm\">{body}</Schema>\
</edmx:DataServices></edmx:Edmx>"
    )
}
