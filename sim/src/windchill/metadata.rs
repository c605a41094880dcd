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

/// Properties of `PTC.DocMgmt.Document` (the `Partreel*`, asset and clip ones are IBAs).
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

/// The EDMX document of one domain.
pub(crate) fn edmx(domain: Domain) -> String {
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
            entity_type("Document", DOCUMENT_PROPERTIES, "")
                + "<EntityContainer Name=\"Windchill\"><EntitySet Name=\"Documents\" EntityType=\"PTC.DocMgmt.Document\"/></EntityContainer>",
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
