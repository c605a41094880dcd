//! Property tests of what the binary parses: the configuration file, cron schedules, HTTP
//! `Range` headers, the viewer's credentials (bearer tokens, JWTs, cookies, `access_token`
//! queries) and its signed media URLs. Properties: never panic; a configuration error names
//! the file; a satisfiable range lies inside the file; a schedule that parses fires later than
//! its start. Run longer with `scripts/props.sh`.

use axum::http::{HeaderMap, HeaderValue, header};
use chrono::{TimeZone, Utc};
use partreel_testkit::props::{bytes, odd_text};
use proptest::prelude::*;

use crate::daemon::schedule;
use crate::viewer::auth::{Authenticator, MediaSigner, credential};
use crate::viewer::config::OidcConfig;
use crate::viewer::proxy::{RangeSpec, parse_range};

const CONFIG: &str = r#"state = "partreel.db"

[sync]
overlap_secs = 30
carry_forward = true

[systems.windchill]
type = "windchill"
mapping = "mappings/windchill.toml"
base_url = "https://plm.example.com/Windchill/servlet/odata"
username = "svc-partreel"
password = { env = "PARTREEL_PROPS_UNSET_PASSWORD" }

[systems.bynder]
type = "bynder"
mapping = "mappings/bynder.toml"
base_url = "https://acme.bynder.com"
auth = { type = "oauth2", client_id = "id", client_secret = { file = "secret" } }

[[jobs]]
name = "windchill-bynder"
plm = "windchill"
dam = "bynder"
schedule = "*/15 * * * *"
"#;

/// The sample configuration with lines dropped, repeated, swapped, or given another value.
fn config_text() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        proptest::sample::select(
            &[
                "\"yes\"",
                "-1",
                "1e400",
                "[]",
                "{}",
                "true",
                "\"\"",
                "0",
                "18446744073709551616"
            ][..]
        )
        .prop_map(str::to_string),
        odd_text().prop_map(|s| format!("{s:?}")),
    ];
    proptest::collection::vec((any::<usize>(), 0u8..4, value), 1..8).prop_map(|edits| {
        let mut lines: Vec<String> = CONFIG.lines().map(str::to_string).collect();
        for (at, op, v) in edits {
            let k = at % lines.len().max(1);
            if lines.is_empty() {
                break;
            }
            match op {
                0 => {
                    lines.remove(k);
                }
                1 => {
                    let l = lines[k].clone();
                    lines.insert(k, l);
                }
                2 => {
                    let n = lines.len();
                    lines.swap(k, (k + 1) % n);
                }
                _ => {
                    if let Some((key, _)) = lines[k].split_once(" = ") {
                        lines[k] = format!("{key} = {v}");
                    }
                }
            }
        }
        lines.join("\n")
    })
}

fn cron_text() -> impl Strategy<Value = String> {
    let field = proptest::sample::select(
        &[
            "*", "*/15", "0", "59", "60", "-1", "1-5", "5-1", "MON-FRI", "sun", "7", "1,2,3",
            "*/0", "?", "L", "#", "",
        ][..],
    );
    prop_oneof![
        proptest::collection::vec(field, 0..8).prop_map(|f| f.join(" ")),
        odd_text(),
    ]
}

fn oidc() -> OidcConfig {
    toml::from_str(
        "issuer = \"https://idp.example.com\"\naudience = \"partreel\"\njwks_url = \"http://127.0.0.1:9/jwks\"\n",
    )
    .expect("oidc config")
}

proptest! {
    // Each case writes and loads a file: 64 in `cargo test`, or as many as PROPTEST_CASES says.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64),
        ..ProptestConfig::default()
    })]

    #[test]
    fn prop_configuration_files_fail_naming_the_file(text in config_text()) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("partreel.toml");
        std::fs::write(&path, &text).expect("write");
        if let Err(e) = crate::config::load(&path) {
            let message = format!("{e:#}");
            prop_assert!(message.contains("partreel.toml"), "{message}");
        }
    }

    #[test]
    fn prop_configuration_of_any_bytes_never_panics(body in bytes()) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("partreel.toml");
        std::fs::write(&path, &body).expect("write");
        let _ = crate::config::load(&path);
    }
}

proptest! {
    #[test]
    fn prop_cron_schedules_never_panic_and_fire_later(expr in cron_text(), start in 0i64..4_000_000_000) {
        if let Ok(s) = schedule::parse(&expr) {
            let after = Utc.timestamp_opt(start, 0).single().expect("time");
            if let Some(next) = s.next_after(after) {
                prop_assert!(next > after, "{expr}: {next} not after {after}");
            }
        }
    }

    #[test]
    fn prop_ranges_lie_inside_the_file(value in prop_oneof![
        "bytes=[0-9]{0,20}-[0-9]{0,20}",
        "bytes= ?-?[0-9]{0,25}",
        "bytes=[0-9]{1,5}-[0-9]{1,5},[0-9]{1,5}-",
        odd_text(),
    ], size in prop_oneof![Just(0u64), Just(1u64), 0u64..10_000, Just(u64::MAX)]) {
        match parse_range(&value, size) {
            RangeSpec::Bytes { start, end } => {
                prop_assert!(start <= end && end < size, "{value} on {size}: {start}-{end}");
            }
            RangeSpec::Unsatisfiable | RangeSpec::Ignore => {}
        }
    }

    #[test]
    fn prop_credentials_are_read_from_anything(auth in odd_text(), cookie in odd_text(), query in odd_text()) {
        let mut headers = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(&auth) {
            headers.insert(header::AUTHORIZATION, v);
        }
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            headers.insert(header::COOKIE, v);
        }
        let _ = credential(&headers, Some(&query));
        let signer = MediaSigner::new(std::time::Duration::from_secs(60));
        prop_assert!(!signer.verify("bynder", "A1", Some(&query)), "a forged signature passed");
    }

    #[test]
    fn prop_tokens_and_jwts_are_refused_without_panicking(token in prop_oneof![
        odd_text(),
        "[A-Za-z0-9_-]{1,40}\\.[A-Za-z0-9_-]{1,60}\\.[A-Za-z0-9_-]{0,40}",
        "eyJ[A-Za-z0-9_-]{2,40}\\.eyJ[A-Za-z0-9_-]{2,40}\\.[A-Za-z0-9_-]{1,40}",
    ]) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let a = Authenticator::new(Vec::new(), Some(oidc()), reqwest::Client::new());
        let verdict = runtime.block_on(a.authenticate(&token));
        prop_assert!(verdict.is_err(), "{token} was accepted");
    }
}
