//! The registry of the systems partreel connects: the one place that lists them.
//!
//! Each system is one entry of the [`systems!`] invocation below: its kind (the `type` written
//! in a configuration's system table), its connector crate and that crate's configuration type.
//! From the entries come the configuration's [`SystemSection`] (one variant per kind), the
//! builders of the PLM and DAM connectors ([`SystemSection::build_plm`],
//! [`SystemSection::build_dam`]), the strict re-reading of a table's settings
//! ([`check_settings`]) and the table [`SYSTEMS`], which the rest of the binary (logging's own
//! crates, the viewer's DAM types, messages naming the known kinds) reads instead of naming
//! systems by hand. See `docs/adding-a-system.md`.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use partreel_core::connector::{DamBuildContext, PlmBuildContext};
use partreel_core::{DamConnector, PlmConnector};
use serde::Deserialize;

use crate::config::Endpoint;

/// Which side of a link a system is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Product lifecycle management.
    Plm,
    /// Digital asset management.
    Dam,
}

/// One entry of the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct System {
    /// The kind, as written in `type = "…"` (also the default mapping file's name,
    /// `mappings/KIND.toml`, and the default system name of the shorthand form).
    pub kind: &'static str,
    /// PLM or DAM.
    pub side: Side,
    /// The connector crate's name as its log events' targets start (`partreel_windchill`).
    pub krate: &'static str,
    /// What the system is, for documentation and messages.
    pub about: &'static str,
}

/// Lists every system once; generates [`SystemSection`], its methods, [`check_settings`] and
/// [`SYSTEMS`]. Each entry: `Variant { kind: "…", krate: connector_crate, config: ConfigType,
/// about: "…" }`, PLMs first, then DAMs.
macro_rules! systems {
    (
        plm: [$($pv:ident {
            kind: $pk:literal,
            krate: $pkrate:ident,
            config: $pcfg:ident,
            about: $pabout:literal $(,)?
        }),* $(,)?],
        dam: [$($dv:ident {
            kind: $dk:literal,
            krate: $dkrate:ident,
            config: $dcfg:ident,
            about: $dabout:literal $(,)?
        }),* $(,)?] $(,)?
    ) => {
        /// Every system, PLMs first, in the order of the registry.
        pub const SYSTEMS: &[System] = &[
            $(System { kind: $pk, side: Side::Plm, krate: stringify!($pkrate), about: $pabout },)*
            $(System { kind: $dk, side: Side::Dam, krate: stringify!($dkrate), about: $dabout },)*
        ];

        /// One system table of the configuration, tagged by `type` (a kind of [`SYSTEMS`]).
        #[derive(Debug, Clone, Deserialize)]
        #[serde(tag = "type")]
        pub enum SystemSection {
            $(
                #[doc = $pabout]
                #[serde(rename = $pk)]
                $pv(Endpoint<$pkrate::$pcfg>),
            )*
            $(
                #[doc = $dabout]
                #[serde(rename = $dk)]
                $dv(Endpoint<$dkrate::$dcfg>),
            )*
        }

        impl SystemSection {
            /// The connector type, as written in `type`.
            pub fn kind(&self) -> &'static str {
                match self {
                    $(SystemSection::$pv(_) => $pk,)*
                    $(SystemSection::$dv(_) => $dk,)*
                }
            }

            /// PLM or DAM.
            pub fn side(&self) -> Side {
                match self {
                    $(SystemSection::$pv(_) => Side::Plm,)*
                    $(SystemSection::$dv(_) => Side::Dam,)*
                }
            }

            /// The explicit `name`, if any.
            pub fn name(&self) -> Option<&str> {
                match self {
                    $(SystemSection::$pv(e) => e.name.as_deref(),)*
                    $(SystemSection::$dv(e) => e.name.as_deref(),)*
                }
            }

            /// The mapping file as written.
            pub fn mapping(&self) -> &Path {
                match self {
                    $(SystemSection::$pv(e) => &e.mapping,)*
                    $(SystemSection::$dv(e) => &e.mapping,)*
                }
            }

            /// Pure validation of the connector settings: every problem, each starting with
            /// its key.
            pub fn validate(&self) -> Vec<String> {
                match self {
                    $(SystemSection::$pv(e) => e.settings.validate().err().unwrap_or_default(),)*
                    $(SystemSection::$dv(e) => e.settings.validate().err().unwrap_or_default(),)*
                }
            }

            /// Validates the settings and builds the PLM connector (resolving its secrets);
            /// None when the system is a DAM. `where_` names the system in errors.
            #[allow(unreachable_patterns)]
            pub fn build_plm(
                &self,
                ctx: PlmBuildContext,
                where_: impl Fn() -> String,
            ) -> Option<anyhow::Result<Arc<dyn PlmConnector>>> {
                match self {
                    $(SystemSection::$pv(e) => Some(match e.settings.validate() {
                        Err(errs) => Err(anyhow::anyhow!("{}: {}", where_(), errs.join("; "))),
                        Ok(valid) => valid
                            .build(ctx)
                            .map(|c| Arc::new(c) as Arc<dyn PlmConnector>)
                            .with_context(&where_),
                    }),)*
                    _ => None,
                }
            }

            /// Validates the settings and builds the DAM connector (resolving its secrets);
            /// None when the system is a PLM. `where_` names the system in errors.
            #[allow(unreachable_patterns)]
            pub fn build_dam(
                &self,
                ctx: DamBuildContext,
                where_: impl Fn() -> String,
            ) -> Option<anyhow::Result<Arc<dyn DamConnector>>> {
                match self {
                    $(SystemSection::$dv(e) => Some(match e.settings.validate() {
                        Err(errs) => Err(anyhow::anyhow!("{}: {}", where_(), errs.join("; "))),
                        Ok(valid) => valid
                            .build(ctx)
                            .map(|c| Arc::new(c) as Arc<dyn DamConnector>)
                            .with_context(&where_),
                    }),)*
                    _ => None,
                }
            }
        }

        /// Reads a system table's connector settings (without `type`, `name` and `mapping`)
        /// strictly as the connector of `kind` does, so unknown keys are refused; None for a
        /// kind the registry does not hold.
        pub fn check_settings(
            kind: &str,
            settings: toml::Value,
        ) -> Option<Result<(), toml::de::Error>> {
            match kind {
                $($pk => Some($pkrate::$pcfg::deserialize(settings).map(drop)),)*
                $($dk => Some($dkrate::$dcfg::deserialize(settings).map(drop)),)*
                _ => None,
            }
        }
    };
}

systems! {
    plm: [
        Windchill {
            kind: "windchill",
            krate: partreel_windchill,
            config: WindchillConfig,
            about: "PTC Windchill (WRS) — a PLM.",
        },
        Teamcenter {
            kind: "teamcenter",
            krate: partreel_teamcenter,
            config: TeamcenterConfig,
            about: "Siemens Teamcenter (SOA over JSON/REST) — a PLM.",
        },
        Threedx {
            kind: "threedx",
            krate: partreel_threedx,
            config: ThreedxConfig,
            about: "Dassault Systèmes 3DEXPERIENCE (3DSpace) — a PLM.",
        },
    ],
    dam: [
        Bynder {
            kind: "bynder",
            krate: partreel_bynder,
            config: BynderConfig,
            about: "Bynder — a DAM.",
        },
        Aem {
            kind: "aem",
            krate: partreel_aem,
            config: AemConfig,
            about: "Adobe Experience Manager Assets — a DAM.",
        },
    ],
}

/// The kinds of one side, in registry order.
pub fn kinds(side: Side) -> impl Iterator<Item = &'static str> {
    SYSTEMS
        .iter()
        .filter(move |s| s.side == side)
        .map(|s| s.kind)
}

/// The connector crates, as log targets start (`partreel_windchill`, …).
pub fn connector_crates() -> impl Iterator<Item = &'static str> {
    SYSTEMS.iter().map(|s| s.krate)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The workspace root (the binary's package is at the root).
    fn root() -> &'static Path {
        Path::new(env!("CARGO_MANIFEST_DIR"))
    }

    #[test]
    fn kinds_and_crates_are_unique() {
        for (i, a) in SYSTEMS.iter().enumerate() {
            for b in &SYSTEMS[i + 1..] {
                assert_ne!(a.kind, b.kind, "kind listed twice");
                assert_ne!(a.krate, b.krate, "crate listed twice");
            }
        }
        assert!(kinds(Side::Plm).count() > 0 && kinds(Side::Dam).count() > 0);
    }

    #[test]
    fn every_kind_has_a_default_mapping_file() {
        for s in SYSTEMS {
            let file = root().join("mappings").join(format!("{}.toml", s.kind));
            assert!(
                file.is_file(),
                "{}: no mapping file {}",
                s.kind,
                file.display()
            );
            if let Err(e) = partreel_core::mapping::Mapping::load(&file) {
                panic!("{}: {e}", file.display());
            }
        }
    }

    /// Every connector crate of the workspace (`connectors/*`) is in the registry, and every
    /// registry crate is one of them: a connector left out would be built but never offered.
    #[test]
    fn registry_covers_the_workspace_connectors() {
        let manifest = std::fs::read_to_string(root().join("Cargo.toml")).expect("Cargo.toml");
        let manifest: toml::Table = manifest.parse().expect("Cargo.toml parses");
        let members: Vec<String> = manifest["workspace"]["members"]
            .as_array()
            .expect("workspace.members")
            .iter()
            .filter_map(toml::Value::as_str)
            .filter(|m| m.starts_with("connectors/"))
            .map(str::to_string)
            .collect();
        let mut crates: Vec<String> = members
            .iter()
            .map(|m| {
                let text = std::fs::read_to_string(root().join(m).join("Cargo.toml"))
                    .unwrap_or_else(|e| panic!("{m}/Cargo.toml: {e}"));
                let table: toml::Table = text.parse().expect("connector manifest parses");
                table["package"]["name"]
                    .as_str()
                    .expect("package.name")
                    .replace('-', "_")
            })
            .collect();
        crates.sort();
        let mut registered: Vec<String> = connector_crates().map(str::to_string).collect();
        registered.sort();
        assert_eq!(crates, registered);
    }

    /// The emulators' registry (`partreel-sim`) holds the same systems, on the same sides, in
    /// the same order: `partreel sim` and `partreel demo` configure every system.
    #[test]
    fn every_system_has_an_emulator() {
        use partreel_sim::registry::{EMULATORS, Side as SimSide};
        let emulated: Vec<(&str, bool)> = EMULATORS
            .iter()
            .map(|e| (e.kind, e.side == SimSide::Plm))
            .collect();
        let registered: Vec<(&str, bool)> = SYSTEMS
            .iter()
            .map(|s| (s.kind, s.side == Side::Plm))
            .collect();
        assert_eq!(emulated, registered);
    }

    #[test]
    fn the_section_kinds_are_the_registry_kinds() {
        for s in SYSTEMS {
            let table = format!("type = \"{}\"\nmapping = \"m.toml\"\n", s.kind);
            // Settings are missing, so reading may fail, but never as an unknown type.
            if let Err(e) = toml::from_str::<SystemSection>(&table) {
                assert!(
                    !e.to_string().contains("unknown variant"),
                    "{}: {e}",
                    s.kind
                );
            }
            assert!(check_settings(s.kind, toml::Value::Table(toml::Table::new())).is_some());
        }
        assert!(check_settings("plone", toml::Value::Table(toml::Table::new())).is_none());
        let e = toml::from_str::<SystemSection>("type = \"plone\"\nmapping = \"m.toml\"\n")
            .expect_err("an unknown type");
        for s in SYSTEMS {
            assert!(e.to_string().contains(&format!("`{}`", s.kind)), "{e}");
        }
    }
}
