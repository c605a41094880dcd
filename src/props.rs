//! Property tests of what the binary parses: the configuration file, cron schedules, HTTP
//! `Range` headers, the viewer's credentials (bearer tokens, JWTs, cookies, `access_token`
//! queries), its signed media URLs and its DAM host allow-list. Properties: never panic; a
//! configuration error names the file; a satisfiable range lies inside the file, and a range
//! written as a header reads back as written; a schedule that parses fires later than its
//! start, and a crontab day of week (0-7, ranges, steps) fires on that day; a credential
//! written as a header, cookie or query reads back as written; a JWT signed with a shared
//! secret or none is refused before any key is fetched; a signed media URL verifies for its
//! clip only; a DAM host matches the URL it was written from. Run longer with
//! `scripts/props.sh`; add a target as one more `prop_…` test below.

use axum::http::{HeaderMap, HeaderValue, header};
use chrono::{Datelike, TimeZone, Timelike, Utc};
use partreel_testkit::props::{bytes, huge_number, odd_text};
use proptest::prelude::*;

use crate::daemon::schedule;
use crate::viewer::auth::{AuthFailure, Authenticator, MediaSigner, Source, credential};
use crate::viewer::config::{OidcConfig, parse_dam_host};
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
container = "OR:wt.pdmlink.PDMLinkProduct:1001"

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

[provenance]
allow_generators = ["sora"]
max_file_bytes = 1048576

[viewer]
listen = "127.0.0.1:8080"
dam_hosts = ["acme.bynder.com", "cdn.example.com:8443"]
frame_ancestors = ["'self'"]
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
        huge_number(),
        // Nested past any sensible depth.
        (1usize..200).prop_map(|n| format!("{}1{}", "[".repeat(n), "]".repeat(n))),
        (1usize..200).prop_map(|n| format!("{}1{}", "{ a = ".repeat(n), " }".repeat(n))),
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

/// A crontab day-of-week item (`d`, `a-b`, `a-b/s`, `*/s`) and the days it means (0 = Sunday).
fn crontab_day() -> impl Strategy<Value = (String, Vec<u32>)> {
    prop_oneof![
        (0u32..=7).prop_map(|d| (d.to_string(), vec![d % 7])),
        (0u32..=7, 0u32..=7, proptest::option::of(1u32..8)).prop_map(|(a, b, step)| {
            let (a, b) = (a.min(b), a.max(b));
            let step = step.unwrap_or(1);
            let days = (a..=b).step_by(step as usize).map(|d| d % 7).collect();
            let text = if step == 1 {
                format!("{a}-{b}")
            } else {
                format!("{a}-{b}/{step}")
            };
            (text, days)
        }),
        (1u32..8).prop_map(|step| (
            format!("*/{step}"),
            (0..=6).step_by(step as usize).collect()
        )),
    ]
}

fn oidc() -> OidcConfig {
    toml::from_str(
        "issuer = \"https://idp.example.com\"\naudience = \"partreel\"\njwks_url = \"http://127.0.0.1:9/jwks\"\n",
    )
    .expect("oidc config")
}

/// The mutations of [`config_text`] start from a file that loads (one case: nothing varies).
#[test]
fn prop_the_sample_configuration_loads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("partreel.toml");
    std::fs::write(&path, CONFIG).expect("write");
    if let Err(e) = crate::config::load(&path) {
        panic!("{e:#}");
    }
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

    #[test]
    fn prop_ranges_written_read_back_as_written(
        size in prop_oneof![1u64..10_000, Just(u64::MAX)],
        a in any::<u64>(),
        b in any::<u64>(),
        form in 0u8..3,
        pad in proptest::sample::select(&["", " ", "  "][..]),
    ) {
        let (start, end) = (a % size, b % size);
        let (start, end) = (start.min(end), start.max(end));
        let (header, want) = match form {
            0 => (format!("bytes={start}-{end}"), RangeSpec::Bytes { start, end }),
            1 => (format!("bytes={start}-"), RangeSpec::Bytes { start, end: size - 1 }),
            _ => {
                // A suffix of n bytes: the last n, or the whole file when n is larger.
                let n = b % size.saturating_add(1).max(1) + 1;
                (format!("bytes=-{n}"), RangeSpec::Bytes { start: size.saturating_sub(n), end: size - 1 })
            }
        };
        prop_assert_eq!(parse_range(&format!("{pad}{header}{pad}"), size), want, "{}", header);
        // Past the end: 416.
        if size < u64::MAX {
            prop_assert_eq!(parse_range(&format!("bytes={}-", size + start), size), RangeSpec::Unsatisfiable);
        }
    }

    #[test]
    fn prop_crontab_days_fire_on_those_days(
        items in proptest::collection::vec(crontab_day(), 1..3),
        start in 0i64..4_000_000_000,
    ) {
        let field: Vec<&str> = items.iter().map(|(t, _)| t.as_str()).collect();
        let expr = format!("0 0 * * {}", field.join(","));
        let days: Vec<u32> = items.iter().flat_map(|(_, d)| d.iter().copied()).collect();
        let s = schedule::parse(&expr).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let after = Utc.timestamp_opt(start, 0).single().expect("time");
        let next = s.next_after(after).expect("a weekly schedule fires");
        prop_assert!(next > after);
        prop_assert!(next - after <= chrono::Duration::days(7), "{expr}: {next} after {after}");
        prop_assert_eq!((next.hour(), next.minute(), next.second()), (0, 0, 0));
        let dow = next.weekday().num_days_from_sunday();
        prop_assert!(days.contains(&dow), "{expr}: fired on day {dow} ({next})");
    }

    #[test]
    fn prop_credentials_read_back_as_written(
        token in "[A-Za-z0-9._~+/=-]{1,60}",
        query_token in "\\PC{1,30}",
        scheme in proptest::sample::select(&["Bearer", "bearer", "BEARER"][..]),
        source in 0u8..3,
    ) {
        let mut headers = HeaderMap::new();
        let (query, want) = match source {
            0 => {
                let v = HeaderValue::from_str(&format!("{scheme} {token}")).expect("header");
                headers.insert(header::AUTHORIZATION, v);
                (None, (token.clone(), Source::Header))
            }
            1 => {
                let v = HeaderValue::from_str(&format!("theme=dark; partreel_token={token}; x=y")).expect("cookie");
                headers.insert(header::COOKIE, v);
                (None, (token.clone(), Source::Cookie))
            }
            _ => {
                let q = format!("clip=1&access_token={}", urlencoding::encode(&query_token));
                (Some(q), (query_token.clone(), Source::Query))
            }
        };
        prop_assert_eq!(credential(&headers, query.as_deref()), Some(want));
    }

    #[test]
    fn prop_shared_secret_and_unsigned_jwts_are_refused_before_any_key_fetch(
        claims in proptest::collection::btree_map("[a-z]{1,6}", any::<i64>(), 0..5),
        alg in proptest::sample::select(&["HS256", "HS384", "HS512", "none"][..]),
        kid in proptest::option::of("[A-Za-z0-9]{1,8}"),
    ) {
        let mut claims: serde_json::Map<String, serde_json::Value> =
            claims.into_iter().map(|(k, v)| (k, v.into())).collect();
        claims.insert("iss".into(), "https://idp.example.com".into());
        claims.insert("aud".into(), "partreel".into());
        claims.insert("exp".into(), (Utc::now().timestamp() + 3600).into());
        let token = if alg == "none" {
            // jsonwebtoken writes no unsigned token: the header {"alg":"none","typ":"JWT"} by
            // hand, with a signature part so that it looks like a JWT.
            let payload = jsonwebtoken::encode(
                &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
                &claims,
                &jsonwebtoken::EncodingKey::from_secret(b"k"),
            )
            .expect("token");
            let body = payload.split('.').nth(1).expect("payload").to_string();
            format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{body}.x")
        } else {
            let alg = match alg {
                "HS256" => jsonwebtoken::Algorithm::HS256,
                "HS384" => jsonwebtoken::Algorithm::HS384,
                _ => jsonwebtoken::Algorithm::HS512,
            };
            let mut h = jsonwebtoken::Header::new(alg);
            h.kid = kid;
            jsonwebtoken::encode(&h, &claims, &jsonwebtoken::EncodingKey::from_secret(b"the-audience-knows-this"))
                .expect("token")
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let a = Authenticator::new(Vec::new(), Some(oidc()), reqwest::Client::new());
        match runtime.block_on(a.authenticate(&token)) {
            Err(AuthFailure::Jwt(_)) => {}
            other => prop_assert!(false, "{token}: {other:?}"),
        }
    }

    #[test]
    fn prop_signed_media_urls_verify_for_their_clip_only(
        system in "[a-z]{1,8}",
        asset in "\\PC{1,30}",
        other in "\\PC{1,30}",
        flip in any::<proptest::sample::Index>(),
    ) {
        let signer = MediaSigner::new(std::time::Duration::from_secs(600));
        let query = signer.query(&system, &asset);
        prop_assert!(signer.verify(&system, &asset, Some(&query)), "{query}");
        if other != asset {
            prop_assert!(!signer.verify(&system, &other, Some(&query)));
        }
        let other_system = format!("{system}x");
        prop_assert!(!signer.verify(&other_system, &asset, Some(&query)));
        // One hex digit of the signature changed.
        let at = query.find("sig=").expect("sig") + 4;
        let i = at + flip.index(query.len() - at);
        let mut bytes = query.into_bytes();
        bytes[i] = if bytes[i] == b'0' { b'1' } else { b'0' };
        let forged = String::from_utf8(bytes).expect("ascii");
        prop_assert!(!signer.verify(&system, &asset, Some(&forged)), "{forged}");
    }

    #[test]
    fn prop_dam_hosts_match_what_they_name(
        host in prop_oneof![
            "[a-zA-Z][a-zA-Z0-9-]{0,9}(\\.[a-zA-Z][a-zA-Z0-9-]{0,9}){0,3}",
            (any::<u8>(), any::<u8>(), any::<u8>(), any::<u8>()).prop_map(|(a, b, c, d)| format!("{a}.{b}.{c}.{d}")),
            Just("[::1]".to_string()),
            Just("[2001:db8::7]".to_string()),
        ],
        port in proptest::option::of(1u16..),
        junk in odd_text(),
    ) {
        let _ = parse_dam_host(&junk);
        let text = match port {
            Some(p) => format!("{host}:{p}"),
            None => host.clone(),
        };
        let d = parse_dam_host(&text).ok_or_else(|| TestCaseError::fail(format!("{text} refused")))?;
        prop_assert_eq!(&d.host, &host.trim_matches(|c| c == '[' || c == ']').to_ascii_lowercase());
        prop_assert_eq!(d.port, port);
        let url = url::Url::parse(&format!("http://{text}/clip.mp4")).expect("url");
        prop_assert!(d.matches(&url), "{text} does not match {url}");
    }
}
