//! The workspace manifest: the binary's dependencies build on every platform.

/// Only `libc` sits under a target-specific table: a dependency the code uses everywhere
/// (tracing, url …) placed there leaves the binary unbuildable on macOS, musl or Windows.
#[test]
fn only_libc_is_target_specific() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let text = std::fs::read_to_string(path).expect("read Cargo.toml");
    let manifest: toml::Table = text.parse().expect("Cargo.toml parses");
    let Some(targets) = manifest.get("target").and_then(|t| t.as_table()) else {
        return;
    };
    for (cfg, table) in targets {
        for kind in ["dependencies", "dev-dependencies", "build-dependencies"] {
            let deps: Vec<&String> = table
                .get(kind)
                .and_then(|d| d.as_table())
                .map(|d| d.keys().collect())
                .unwrap_or_default();
            let stray: Vec<&&String> = deps.iter().filter(|d| d.as_str() != "libc").collect();
            assert!(
                stray.is_empty(),
                "Cargo.toml [target.'{cfg}'.{kind}] holds {stray:?}: only libc is platform-specific"
            );
        }
    }
}

/// A connector builds on `partreel-connector` alone: no engine, state store, PostgreSQL or
/// C2PA among its (or partreel-connector's) normal dependencies. Its tests may use more.
#[test]
fn connectors_depend_on_the_connector_api_only() {
    let root = env!("CARGO_MANIFEST_DIR");
    let forbidden = [
        "partreel-core",
        "partreel-sim",
        "rusqlite",
        "tokio-postgres",
        "c2pa",
    ];
    let mut crates = vec![format!("{root}/connector/Cargo.toml")];
    for system in ["windchill", "teamcenter", "threedx", "bynder", "aem"] {
        crates.push(format!("{root}/connectors/{system}/Cargo.toml"));
    }
    for path in crates {
        let text = std::fs::read_to_string(&path).expect("read manifest");
        let manifest: toml::Table = text.parse().expect("manifest parses");
        let deps = manifest
            .get("dependencies")
            .and_then(|d| d.as_table())
            .expect("a [dependencies] table");
        let bad: Vec<&str> = forbidden
            .iter()
            .copied()
            .filter(|f| deps.contains_key(*f))
            .collect();
        assert!(bad.is_empty(), "{path} depends on {bad:?}");
        if !path.ends_with("/connector/Cargo.toml") {
            assert!(
                deps.contains_key("partreel-connector"),
                "{path} does not build on partreel-connector"
            );
        }
    }
}

/// The test-clip signer stays out of the engine: `partreel-core` has no testkit among its
/// normal dependencies (its tests use it) and no `fixtures` feature.
#[test]
fn the_engine_carries_no_test_signer() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/core/Cargo.toml");
    let manifest: toml::Table = std::fs::read_to_string(path)
        .expect("read core/Cargo.toml")
        .parse()
        .expect("parses");
    let deps = manifest
        .get("dependencies")
        .and_then(|d| d.as_table())
        .expect("[dependencies]");
    assert!(!deps.contains_key("partreel-testkit"), "{path}");
    assert!(
        manifest
            .get("features")
            .and_then(|f| f.as_table())
            .is_none_or(|f| !f.contains_key("fixtures")),
        "{path} has a fixtures feature"
    );
}

/// Crash injection is in test builds only: the binary's normal dependency on `partreel-core`
/// does not enable `crash-injection` (nor does core by default); its dev-dependency does, so
/// the end-to-end tests' binary can abort on purpose while `cargo build` and `cargo run`
/// cannot.
#[test]
#[allow(clippy::assertions_on_constants)] // `crash::ENABLED` is what differs between builds.
fn crash_injection_is_enabled_by_the_tests_only() {
    let root = env!("CARGO_MANIFEST_DIR");
    let read = |path: String| -> toml::Table {
        let text = std::fs::read_to_string(&path).expect("read manifest");
        text.parse().expect("manifest parses")
    };
    let bin = read(format!("{root}/Cargo.toml"));
    let features = |table: &str| -> Vec<String> {
        bin.get(table)
            .and_then(|d| d.get("partreel-core"))
            .and_then(|c| c.get("features"))
            .and_then(|f| f.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    assert!(
        !features("dependencies").contains(&"crash-injection".to_string()),
        "the shipped binary enables crash injection"
    );
    assert!(
        features("dev-dependencies").contains(&"crash-injection".to_string()),
        "the tests' binary needs crash injection"
    );
    let core = read(format!("{root}/core/Cargo.toml"));
    let default = core
        .get("features")
        .and_then(|f| f.get("default"))
        .and_then(|d| d.as_array())
        .cloned()
        .unwrap_or_default();
    assert!(
        !default
            .iter()
            .any(|f| f.as_str() == Some("crash-injection")),
        "partreel-core enables crash injection by default"
    );
    // Constant within one build, but which build this is is the point.
    assert!(
        partreel_core::engine::crash::ENABLED,
        "this test build has crash injection"
    );
}
