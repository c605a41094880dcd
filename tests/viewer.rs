//! The viewer (`partreel serve`) end to end: the real binary over state from a real sync
//! against the emulators, driven by Debian's headless Chromium; credentials (static tokens and
//! OIDC JWTs against a JWKS served here); the media proxy's host list and Range handling;
//! 404 pages. Each test runs on SQLite state and, when `PARTREEL_TEST_DATABASE_URL` names a
//! test database, again on PostgreSQL state (the daemons' shared deployment). Without Chromium
//! the browser tests skip with one line, unless `PARTREEL_TEST_REQUIRE_CHROMIUM` (or
//! `PARTREEL_REQUIRE_BROWSER`) is set.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::Utc;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use partreel_core::model::{CanonicalValues, LinkId, LinkStatus, ProvenanceState, WatermarkStatus};
use partreel_core::state::postgres::PostgresStore;
use partreel_core::state::sqlite::SqliteStore;
use partreel_core::state::{AssetRecord, LinkOrigin, LinkRecord, PartRecord, StateStore};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::util::{Env, TestSchema, bin, database_url, set_state};

/// Token the viewers in these tests accept.
const TOKEN: &str = "viewer-e2e-token-7f3a";
/// A configured token past its expiry.
const EXPIRED_TOKEN: &str = "viewer-e2e-expired";
/// A playable WebM (made by Chromium's MediaRecorder, 1.2 s, 64×48).
const CLIP: &[u8] = include_bytes!("fixtures/viewer-clip.webm");
/// Prompt written into a story clip before the sync: must show as text.
const XSS_PROMPT: &str =
    "<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\">chase";
/// Test-only P-256 keys (PKCS#8 DER, hex) and their public coordinates (base64url).
const KEY_A: &str = "308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420db3a9448d0ec50d2676e98e90f360936bf5c79d7f4854f4a3c51b4aea26e64a6a1440342000482d7f6b25ffdbaf65b09eb862da040ef160cd6cc9006d409e59aaf3f167ce5f3109ff5c1ef2a681ce1815b21f519cd19f07ba35676331add8a9dba8631684645";
const KEY_A_XY: (&str, &str) = (
    "gtf2sl_9uvZbCeuGLaBA7xYM1syQBtQJ5ZqvPxZ85fM",
    "EJ_1we8qaBzhgVsh9RnNGfB7o1Z2Mxrdip26hjFoRkU",
);
const KEY_B: &str = "308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b02010104207f5ae9a63484700e6e4eea20b164a00a8e3c40bb7a1831e6489f1840746dfc77a14403420004ba69c965137cd020742fb76874b8973eda882915eeaf83e6c5669c0ad5f2167bafd8596f1d11f1b4906991c89382ec67878b3b5bcde30d9a782be514e595504e";
const ISSUER: &str = "https://login.partreel.test/";
const AUDIENCE: &str = "partreel-viewer";

// ---- helpers --------------------------------------------------------------------------------

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// A viewer configuration file: `state` plus `[viewer]` with the test tokens and `extra`.
fn write_viewer_config(dir: &Path, state: &TestState, extra: &str) -> PathBuf {
    let path = dir.join("viewer.toml");
    let text = format!(
        "state = {state:?}\n\n[viewer]\nlisten = \"127.0.0.1:0\"\n{extra}\n\
         [[viewer.tokens]]\nname = \"e2e\"\nsha256 = \"{}\"\n\n\
         [[viewer.tokens]]\nname = \"old\"\nsha256 = \"{}\"\nexpires = \"2020-01-01T00:00:00Z\"\n",
        sha256_hex(TOKEN),
        sha256_hex(EXPIRED_TOKEN),
        state = state.location(),
    );
    std::fs::write(&path, text).expect("write viewer config");
    path
}

/// `partreel serve` running as a child process.
struct Viewer {
    url: String,
    _child: tokio::process::Child,
}

impl Viewer {
    async fn start(config: &Path) -> Viewer {
        Viewer::start_with(config, &[]).await
    }

    /// [`Viewer::start`] with extra environment variables.
    async fn start_with(config: &Path, env: &[(&str, &str)]) -> Viewer {
        let mut child = tokio::process::Command::new(bin())
            .args(["serve", "--config"])
            .arg(config)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn partreel serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let url = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await.expect("read stdout") {
                if let Some(u) = line.strip_prefix("partreel viewer listening on ") {
                    return u.trim().to_string();
                }
            }
            panic!("partreel serve exited without printing its URL");
        })
        .await
        .expect("partreel serve did not start within 60 s");
        Viewer { url, _child: child }
    }

    async fn get(
        &self,
        path: &str,
        token: Option<&str>,
        extra: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut req = reqwest::Client::new().get(format!("{}{path}", self.url));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        req.send().await.expect("request to the viewer")
    }
}

/// Set (to anything) where the browser tests must run: `.ci/run` sets it, so a CI machine
/// without Chromium fails instead of skipping. `PARTREEL_REQUIRE_BROWSER` means the same.
const REQUIRE_ENV: &str = "PARTREEL_TEST_REQUIRE_CHROMIUM";
const REQUIRE_ENV_ALIAS: &str = "PARTREEL_REQUIRE_BROWSER";

/// Debian's Chromium, when installed. Without it a test skips with one line — or fails when
/// [`REQUIRE_ENV`] is set.
fn chromium() -> Option<PathBuf> {
    let candidates = ["/usr/bin/chromium", "/usr/bin/chromium-browser"];
    let found = candidates.iter().map(PathBuf::from).find(|p| p.exists());
    if found.is_none() {
        assert!(
            std::env::var_os(REQUIRE_ENV).is_none()
                && std::env::var_os(REQUIRE_ENV_ALIAS).is_none(),
            "headless Chromium is required ({REQUIRE_ENV} or {REQUIRE_ENV_ALIAS} is set) but was \
             not found at \
             {candidates:?}: install Debian's `chromium` package (`apt-get update && apt-get \
             install -y chromium`)"
        );
        println!(
            "skipped: headless Chromium not found at {candidates:?} (install Debian's `chromium`)"
        );
    }
    found
}

/// Runs headless Chromium with `args` on `url`; returns stdout.
async fn run_chromium(args: &[String], url: &str) -> String {
    let profile = tempfile::tempdir().expect("chromium profile dir");
    let Some(browser) = chromium() else {
        panic!("run_chromium called without a browser (callers check `chromium()` first)");
    };
    let mut cmd = tokio::process::Command::new(browser);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--mute-audio",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .args(args)
    .arg(url)
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(120), cmd.output())
        .await
        .expect("chromium timed out")
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn dump_dom(url: &str) -> String {
    run_chromium(
        &["--virtual-time-budget=15000".into(), "--dump-dom".into()],
        url,
    )
    .await
}

async fn screenshot(url: &str, name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts");
    std::fs::create_dir_all(&dir).expect("artifacts dir");
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    run_chromium(
        &[
            "--virtual-time-budget=15000".into(),
            "--hide-scrollbars".into(),
            "--window-size=1280,1400".into(),
            format!("--screenshot={}", path.display()),
        ],
        url,
    )
    .await;
    let meta = std::fs::metadata(&path).expect("screenshot written");
    assert!(
        meta.len() > 1000,
        "screenshot too small: {} bytes",
        meta.len()
    );
    path
}

/// The `<video …>` start tags of a dumped DOM.
fn video_tags(dom: &str) -> Vec<&str> {
    dom.match_indices("<video")
        .map(|(i, _)| {
            let rest = &dom[i..];
            &rest[..rest.find('>').map_or(rest.len(), |e| e + 1)]
        })
        .collect()
}

fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let end = tag[start..].find('"')?;
    Some(&tag[start..start + end])
}

/// A loopback HTTP server for the test (a DAM file host, a foreign host, an IdP).
async fn spawn_server(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

/// Serves [`CLIP`] honouring a single `bytes=a-b` range itself.
fn ranged_response(headers: &HeaderMap) -> Response {
    let total = CLIP.len();
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.split_once('-'))
        .and_then(|(a, b)| {
            let a: usize = a.parse().ok()?;
            let b: usize = if b.is_empty() {
                total - 1
            } else {
                b.parse().ok()?
            };
            (a <= b && a < total).then_some((a, b.min(total - 1)))
        });
    match range {
        Some((a, b)) => (
            StatusCode::PARTIAL_CONTENT,
            [
                (header::CONTENT_TYPE, "video/webm".to_string()),
                (header::CONTENT_RANGE, format!("bytes {a}-{b}/{total}")),
                (header::ACCEPT_RANGES, "bytes".to_string()),
            ],
            CLIP[a..=b].to_vec(),
        )
            .into_response(),
        None => ([(header::CONTENT_TYPE, "video/webm")], CLIP.to_vec()).into_response(),
    }
}

/// A DAM file host: `/plain.webm` ignores Range, `/ranged.webm` honours it, `/to-foreign`
/// redirects to `foreign`, `/to-plain` redirects to `/plain.webm` on itself.
async fn spawn_dam(foreign: SocketAddr) -> SocketAddr {
    let app = Router::new()
        .route(
            "/plain.webm",
            get(|| async { ([(header::CONTENT_TYPE, "video/webm")], CLIP.to_vec()) }),
        )
        .route(
            "/ranged.webm",
            get(|h: HeaderMap| async move { ranged_response(&h) }),
        )
        .route(
            "/to-foreign",
            get(move || async move {
                (
                    StatusCode::FOUND,
                    [(header::LOCATION, format!("http://{foreign}/evil.webm"))],
                )
            }),
        )
        .route(
            "/to-plain",
            get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/plain.webm")]) }),
        )
        .route(
            "/denied.webm",
            get(|| async { (StatusCode::FORBIDDEN, "Request has expired") }),
        );
    spawn_server(app).await
}

/// A host outside the DAM list that counts every request it gets.
async fn spawn_foreign(hits: Arc<AtomicUsize>) -> SocketAddr {
    let app = Router::new().fallback(move || {
        let hits = hits.clone();
        async move {
            hits.fetch_add(1, Ordering::SeqCst);
            ([(header::CONTENT_TYPE, "video/webm")], CLIP.to_vec())
        }
    });
    spawn_server(app).await
}

/// The state stores the viewer's tests run on: SQLite always, PostgreSQL too when the test
/// database is configured (`PARTREEL_TEST_DATABASE_URL`; one skip line otherwise).
#[derive(Debug, Clone)]
enum Backend {
    Sqlite,
    Postgres(String),
}

fn backends() -> Vec<Backend> {
    let mut all = vec![Backend::Sqlite];
    if let Some(url) = database_url() {
        all.push(Backend::Postgres(url));
    }
    all
}

impl Backend {
    /// A fresh state on this backend: the SQLite file `file`, or a schema of its own.
    async fn state(&self, file: PathBuf) -> TestState {
        eprintln!("viewer on {self:?}");
        match self {
            Backend::Sqlite => TestState::File(file),
            Backend::Postgres(base) => TestState::Pg(TestSchema::create(base).await),
        }
    }
}

/// Where one test's state lives.
enum TestState {
    File(PathBuf),
    Pg(TestSchema),
}

impl TestState {
    /// The configuration's `state` value.
    fn location(&self) -> String {
        match self {
            TestState::File(p) => p.display().to_string(),
            TestState::Pg(schema) => schema.url(),
        }
    }

    /// The store, for writing what the viewer will read.
    async fn store(&self) -> Box<dyn StateStore> {
        match self {
            TestState::File(p) => Box::new(SqliteStore::open(p).expect("open state")),
            TestState::Pg(schema) => Box::new(
                PostgresStore::connect(&schema.url())
                    .await
                    .expect("connect state"),
            ),
        }
    }

    /// Points the sync configuration `config` at this state.
    fn use_in(&self, config: &Path) {
        set_state(config, &self.location());
    }

    /// Drops the PostgreSQL schema.
    async fn finish(self) {
        if let TestState::Pg(schema) = self {
            schema.drop_schema().await;
        }
    }
}

/// A state file written through the store's own API: part `VP-1` rev `A` with one clip per
/// `(asset_id, rendition_url)`.
async fn seed_state(state: &TestState, clips: &[(&str, String)]) {
    let store = state.store().await;
    let now = Utc::now();
    store
        .upsert_parts(&[PartRecord {
            system: "plm".into(),
            number: "VP-1".into(),
            revision: "A".into(),
            remote_id: "OR:VP-1-A".into(),
            name: "Viewer test part".into(),
            lifecycle_state: Some("Released".into()),
            sku: Some("SKU-VP-1".into()),
            modified: now,
            values: CanonicalValues::new(),
            first_seen: now,
        }])
        .await
        .expect("parts");
    let assets: Vec<AssetRecord> = clips
        .iter()
        .map(|(id, url)| AssetRecord {
            system: "dam".into(),
            asset_id: (*id).into(),
            title: format!("{id}.webm"),
            modified: now,
            version: None,
            archived: false,
            deleted: false,
            rendition_url: Some(url.clone()),
            values: [("prompt".to_string(), format!("prompt of {id}"))]
                .into_iter()
                .collect(),
            watermark: WatermarkStatus {
                visible_field: Some(true),
                provenance: ProvenanceState::Valid,
                claim_generator: None,
                ..WatermarkStatus::default()
            },
        })
        .collect();
    store.upsert_assets(&assets, &[]).await.expect("assets");
    for (id, _) in clips {
        store
            .upsert_link(&LinkRecord {
                link_id: LinkId::new("dam", id, "plm", "VP-1", "A"),
                dam_system: "dam".into(),
                asset_id: (*id).into(),
                plm_system: "plm".into(),
                part_number: "VP-1".into(),
                part_revision: "A".into(),
                part_remote_id: "OR:VP-1-A".into(),
                remote_id: None,
                status: LinkStatus::Active,
                origin: LinkOrigin::Tagged,
                base: CanonicalValues::new(),
                plm_values: CanonicalValues::new(),
                plm_modified: None,
                created_at: now,
                updated_at: now,
                run_id: "seed".into(),
            })
            .await
            .expect("link");
    }
}

// ---- tests ----------------------------------------------------------------------------------

/// A sync against the emulators, then Chromium opens the part revision page: the clip list,
/// the badges, a prompt holding HTML shown as text (no script ran), each `<video>` got its
/// source through the proxy; a screenshot goes to `artifacts/viewer-part.png`.
#[tokio::test(flavor = "multi_thread")]
async fn part_page_in_chromium_after_a_real_sync() {
    if chromium().is_none() {
        return;
    }
    for backend in backends() {
        let env = Env::story().await;
        let state = backend.state(env.state_path()).await;
        state.use_in(&env.config);
        let ids = env.sim.bynder_asset_ids();
        // Find a story clip on TR-1001/B by syncing first, then poison its prompt and sync again.
        env.sync(&[]).await;
        let store = state.store().await;
        let links = store
            .links_for_part("windchill", "TR-1001", Some("B"))
            .await
            .expect("links");
        assert!(links.len() >= 2, "story links on TR-1001/B: {links:?}");
        let poisoned = links[0].asset_id.clone();
        assert!(ids.contains(&poisoned));
        drop(store);
        env.sim.bynder_edit(&poisoned, "Prompt", Some(XSS_PROMPT));
        env.sync(&[]).await;

        let dam_host = env
            .sim
            .bynder
            .root
            .trim_start_matches("http://")
            .to_string();
        let config = write_viewer_config(
            env.dir.path(),
            &state,
            &format!("dam_hosts = [\"{dam_host}\"]"),
        );
        let viewer = Viewer::start(&config).await;
        let page = format!(
            "{}/parts/windchill/TR-1001/B?access_token={TOKEN}",
            viewer.url
        );
        let dom = dump_dom(&page).await;

        assert!(dom.contains("TR-1001 / B"), "part heading:\n{dom}");
        assert!(
            dom.contains("chase-sequence-v3"),
            "story clip listed:\n{dom}"
        );
        assert!(dom.contains("spoiler-closeup"), "story clip listed:\n{dom}");
        assert!(
            dom.contains("data-kind=\"watermark_preserved\""),
            "badge:\n{dom}"
        );
        // The prompt is text: escaped in the DOM, no <img> element made, no script ran.
        assert!(
            dom.contains("&lt;script&gt;document.title='pwned'&lt;/script&gt;"),
            "{dom}"
        );
        assert!(
            !dom.contains("<img src=\"x\""),
            "HTML from a prompt became an element"
        );
        assert!(!dom.contains("<title>pwned"), "script from a prompt ran");
        let videos = video_tags(&dom);
        assert_eq!(videos.len(), links.len(), "one player per clip: {videos:?}");
        for v in &videos {
            // The page's script saw the element start loading its source.
            assert!(
                attr(v, "data-event").is_some(),
                "no media event recorded: {v}"
            );
            let src = attr(v, "src").expect("src").replace("&amp;", "&");
            assert!(src.starts_with("/media/bynder/"), "{src}");
            // The same signed URL delivers the DAM's bytes through the proxy, with Range.
            let r = tokio::time::timeout(
                Duration::from_secs(60),
                viewer.get(&src, None, &[("Range", "bytes=0-15")]),
            )
            .await
            .expect("the proxy (and the DAM emulator's file route) answered within 60 s");
            assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT, "{src}");
            let body = r.bytes().await.expect("body");
            assert_eq!(body.len(), 16);
            assert_eq!(&body[4..8], b"ftyp", "an ISO BMFF file from the DAM");
        }
        let shot = screenshot(&page, "viewer-part.png").await;
        eprintln!("screenshot: {}", shot.display());
        state.finish().await;
    }
}

/// A playable clip through the proxy: Chromium's `<video>` reaches `loadeddata`.
#[tokio::test(flavor = "multi_thread")]
async fn video_plays_through_the_proxy_in_chromium() {
    if chromium().is_none() {
        return;
    }
    let foreign = spawn_foreign(Arc::new(AtomicUsize::new(0))).await;
    let dam = spawn_dam(foreign).await;
    for backend in backends() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = backend.state(dir.path().join("state.db")).await;
        seed_state(&state, &[("PLAY-1", format!("http://{dam}/plain.webm"))]).await;
        let config = write_viewer_config(dir.path(), &state, &format!("dam_hosts = [\"{dam}\"]"));
        let viewer = Viewer::start(&config).await;
        let page = format!("{}/parts/plm/VP-1/A?access_token={TOKEN}", viewer.url);
        let dom = dump_dom(&page).await;
        let videos = video_tags(&dom);
        assert_eq!(videos.len(), 1, "{dom}");
        assert_eq!(
            attr(videos[0], "data-loaded"),
            Some("true"),
            "the <video> did not load its source: {}",
            videos[0]
        );
        screenshot(&page, "viewer-playing.png").await;
        state.finish().await;
    }
}

/// 401 without a credential, with a wrong one, with an expired static token, and for JWTs
/// with the wrong audience or issuer, expired, or signed by a key outside the JWKS; the
/// body is never a page.
#[tokio::test(flavor = "multi_thread")]
async fn credentials_are_required_and_checked() {
    let jwks = json!({"keys": [{
        "kty": "EC", "crv": "P-256", "x": KEY_A_XY.0, "y": KEY_A_XY.1,
        "kid": "k1", "alg": "ES256", "use": "sig"
    }]});
    let idp = spawn_server(Router::new().route(
        "/jwks.json",
        get(move || {
            let jwks = jwks.clone();
            async move { axum::Json(jwks) }
        }),
    ))
    .await;
    for backend in backends() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = backend.state(dir.path().join("state.db")).await;
        seed_state(&state, &[("C-1", "http://127.0.0.1:9/x.webm".into())]).await;
        let config = write_viewer_config(
            dir.path(),
            &state,
            &format!(
                "[viewer.oidc]\nissuer = \"{ISSUER}\"\naudience = \"{AUDIENCE}\"\njwks_url = \"http://{idp}/jwks.json\"\n"
            ),
        );
        let viewer = Viewer::start(&config).await;

        let jwt = |key: &str, kid: &str, iss: &str, aud: &str, exp_in: i64| {
            let mut h = Header::new(Algorithm::ES256);
            h.kid = Some(kid.into());
            let claims = json!({"sub": "engineer@acme.test", "iss": iss, "aud": aud,
                            "exp": Utc::now().timestamp() + exp_in});
            jsonwebtoken::encode(
                &h,
                &claims,
                &EncodingKey::from_ec_der(&hex::decode(key).expect("hex")),
            )
            .expect("sign")
        };
        let good = jwt(KEY_A, "k1", ISSUER, AUDIENCE, 300);
        let refused = [
            (
                "wrong audience",
                jwt(KEY_A, "k1", ISSUER, "someone-else", 300),
            ),
            (
                "wrong issuer",
                jwt(KEY_A, "k1", "https://evil.test/", AUDIENCE, 300),
            ),
            ("expired", jwt(KEY_A, "k1", ISSUER, AUDIENCE, -3600)),
            ("other key", jwt(KEY_B, "k1", ISSUER, AUDIENCE, 300)),
            ("unknown kid", jwt(KEY_B, "k2", ISSUER, AUDIENCE, 300)),
        ];
        for path in [
            "/",
            "/parts/plm/VP-1/A",
            "/api/v1/parts/plm/VP-1/A",
            "/api/v1/openapi.json",
        ] {
            for (what, token) in [
                ("no token", None),
                ("wrong token", Some("not-the-token")),
                ("expired token", Some(EXPIRED_TOKEN)),
            ]
            .into_iter()
            .chain(refused.iter().map(|(w, t)| (*w, Some(t.as_str()))))
            {
                let r = viewer.get(path, token, &[]).await;
                assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{path}: {what}");
                assert!(r.headers().contains_key(header::WWW_AUTHENTICATE));
                let body = r.text().await.expect("body");
                assert!(
                    !body.contains('<'),
                    "{path}: {what}: a 401 is never a page: {body}"
                );
            }
            for (what, token) in [("static token", TOKEN), ("JWT", good.as_str())] {
                let r = viewer.get(path, Some(token), &[]).await;
                assert_eq!(r.status(), StatusCode::OK, "{path}: {what}");
            }
        }
        state.finish().await;
    }
}

/// The proxy fetches only from the DAM host list — not directly, not via a redirect — and
/// answers Range requests with 206 whether or not the DAM honours Range itself.
#[tokio::test(flavor = "multi_thread")]
async fn proxy_keeps_to_dam_hosts_and_serves_ranges() {
    let foreign_hits = Arc::new(AtomicUsize::new(0));
    let foreign = spawn_foreign(foreign_hits.clone()).await;
    let dam = spawn_dam(foreign).await;
    // A DAM host that refuses connections: a listener bound and closed.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    for backend in backends() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = backend.state(dir.path().join("state.db")).await;
        seed_state(
        &state,
        &[
            ("PLAIN", format!("http://{dam}/plain.webm")),
            ("RANGED", format!("http://{dam}/ranged.webm")),
            ("FOREIGN", format!("http://{foreign}/evil.webm")),
            ("REDIR-OUT", format!("http://{dam}/to-foreign")),
            ("REDIR-IN", format!("http://{dam}/to-plain")),
            (
                "DENIED",
                format!("http://{dam}/denied.webm?X-Amz-Credential=AKIAPARTREEL&X-Amz-Signature=5ec7e7519a"),
            ),
            (
                "UNREACHABLE",
                format!("http://{closed}/gone.webm?X-Amz-Signature=5ec7e7519b"),
            ),
            ("FTP", format!("ftp://{dam}/clip.webm")),
        ],
    )
    .await;
        let config = write_viewer_config(
            dir.path(),
            &state,
            &format!("dam_hosts = [\"{dam}\", \"{closed}\"]"),
        );
        let viewer = Viewer::start(&config).await;
        let total = CLIP.len();
        let media = |id: &str| format!("/media/dam/{id}");

        for id in ["PLAIN", "RANGED"] {
            let r = viewer.get(&media(id), Some(TOKEN), &[]).await;
            assert_eq!(r.status(), StatusCode::OK, "{id}");
            assert_eq!(r.headers()[header::CONTENT_TYPE], "video/webm");
            assert_eq!(
                r.bytes().await.expect("body").as_ref(),
                CLIP,
                "{id}: whole file"
            );
            for (range, start, end) in [
                ("bytes=0-99", 0, 99),
                ("bytes=100-", 100, total - 1),
                ("bytes=1000-1999", 1000, 1999),
            ] {
                let r = viewer
                    .get(&media(id), Some(TOKEN), &[("Range", range)])
                    .await;
                assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT, "{id} {range}");
                assert_eq!(
                    r.headers()[header::CONTENT_RANGE].to_str().expect("ascii"),
                    format!("bytes {start}-{end}/{total}"),
                    "{id} {range}"
                );
                let body = r.bytes().await.expect("body");
                assert_eq!(body.as_ref(), &CLIP[start..=end], "{id} {range}");
            }
        }
        let r = viewer
            .get(
                &media("PLAIN"),
                Some(TOKEN),
                &[("Range", &format!("bytes={total}-"))],
            )
            .await;
        assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);
        assert_eq!(
            r.headers()[header::CONTENT_RANGE].to_str().expect("ascii"),
            format!("bytes */{total}")
        );

        for id in ["FOREIGN", "REDIR-OUT"] {
            let r = viewer.get(&media(id), Some(TOKEN), &[]).await;
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "{id}");
            let body = r.text().await.expect("body");
            assert!(body.contains("not a configured DAM host"), "{id}: {body}");
        }
        assert_eq!(
            foreign_hits.load(Ordering::SeqCst),
            0,
            "the foreign host was contacted"
        );
        // An upstream refusal or a host that cannot be reached is a 502 that names neither the
        // URL nor its signature.
        for id in ["DENIED", "UNREACHABLE"] {
            let r = viewer.get(&media(id), Some(TOKEN), &[]).await;
            assert_eq!(r.status(), StatusCode::BAD_GATEWAY, "{id}");
            let body = r.text().await.expect("body");
            for secret in [
                "X-Amz-Signature",
                "5ec7e7519",
                "AKIAPARTREEL",
                "denied.webm",
                "gone.webm",
            ] {
                assert!(!body.contains(secret), "{id}: {body}");
            }
            assert!(body.contains("server log"), "{id}: {body}");
        }
        let r = viewer.get(&media("FTP"), Some(TOKEN), &[]).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let body = r.text().await.expect("body");
        assert!(
            body.contains("ftp://") && body.contains("only http and https"),
            "{body}"
        );
        let r = viewer.get(&media("REDIR-IN"), Some(TOKEN), &[]).await;
        assert_eq!(
            r.status(),
            StatusCode::OK,
            "a redirect within the DAM host is followed"
        );
        assert_eq!(r.bytes().await.expect("body").as_ref(), CLIP);
        // The proxy needs a credential or a page's signature too.
        let r = viewer.get(&media("PLAIN"), None, &[]).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        state.finish().await;
    }
}

/// Unknown part revision or clip: a 404 page that names what was not found.
#[tokio::test(flavor = "multi_thread")]
async fn unknown_part_or_clip_is_a_404_page_naming_it() {
    for backend in backends() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = backend.state(dir.path().join("state.db")).await;
        seed_state(&state, &[("C-1", "http://127.0.0.1:9/x.webm".into())]).await;
        let config = write_viewer_config(dir.path(), &state, "");
        let viewer = Viewer::start(&config).await;
        for (path, says) in [
            (
                "/parts/plm/NOPE-404/Z",
                "part revision plm / NOPE-404 / Z was not found",
            ),
            (
                "/clips/dam/NO-SUCH-CLIP",
                "clip dam / NO-SUCH-CLIP was not found",
            ),
            (
                "/media/dam/NO-SUCH-CLIP",
                "clip dam / NO-SUCH-CLIP was not found",
            ),
        ] {
            let r = viewer.get(path, Some(TOKEN), &[]).await;
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
            let body = r.text().await.expect("body");
            assert!(body.contains(says), "{path}: {body}");
        }
        let r = viewer.get("/parts/plm/VP-1/A", Some(TOKEN), &[]).await;
        assert_eq!(r.status(), StatusCode::OK);
        state.finish().await;
    }
}

/// Every DAM's clips play through the proxy after a real sync: AEM's renditions are served
/// only to an authenticated caller, so the proxy fetches them with the AEM system's own
/// credentials (from the same configuration file), and Bynder's preview URLs without any.
#[tokio::test(flavor = "multi_thread")]
async fn the_proxy_plays_each_dams_clips_with_that_dams_credentials() {
    for backend in backends() {
        let env = Env::start(partreel_sim::SimConfig::default(), crate::util::fast()).await;
        let state = backend.state(env.state_path()).await;
        state.use_in(&env.config);
        let report = env.sync(&[]).await;
        let aem_report = env.sync(&["--job", "windchill-aem"]).await;
        let mut text = std::fs::read_to_string(&env.config).expect("read config");
        text.push_str(&format!(
        "\n[viewer]\nlisten = \"127.0.0.1:0\"\n\n[[viewer.tokens]]\nname = \"e2e\"\nsha256 = \"{}\"\n",
        sha256_hex(TOKEN)
    ));
        std::fs::write(&env.config, text).expect("write config");
        let links = {
            let store = state.store().await;
            store.links_page(None, 1000).await.expect("links")
        };
        let viewer = Viewer::start(&env.config).await;
        for dam in ["aem", "bynder"] {
            let link = links
                .iter()
                .find(|l| l.dam_system == dam)
                .unwrap_or_else(|| {
                    let systems: Vec<&str> = links.iter().map(|l| l.dam_system.as_str()).collect();
                    panic!("a {dam} link after the story syncs: {systems:?} {report} {aem_report}")
                });
            // As the pages write it: one path segment (an AEM asset id is a path).
            let media = format!("/media/{dam}/{}", link.asset_id.replace('/', "%2F"));
            let r = viewer.get(&media, Some(TOKEN), &[]).await;
            assert_eq!(r.status(), StatusCode::OK, "{media}");
            let body = r.bytes().await.expect("body");
            assert_eq!(
                &body[4..8],
                b"ftyp",
                "{media}: an ISO BMFF file from the DAM"
            );
            let r = viewer
                .get(&media, Some(TOKEN), &[("Range", "bytes=0-15")])
                .await;
            assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT, "{media}");
            assert_eq!(r.bytes().await.expect("body").len(), 16, "{media}");
        }
        // The AEM emulator refuses an unauthenticated fetch of the same rendition: the proxy's
        // credentials are what made it play.
        let aem = links
            .iter()
            .find(|l| l.dam_system == "aem")
            .expect("an aem link");
        let store = state.store().await;
        let url = store
            .asset("aem", &aem.asset_id)
            .await
            .expect("asset")
            .and_then(|a| a.rendition_url)
            .expect("a rendition URL");
        let plain = reqwest::get(&url).await.expect("GET rendition");
        assert_eq!(plain.status(), StatusCode::UNAUTHORIZED, "{url}");
        drop(store);
        state.finish().await;
    }
}

/// On the daemons' PostgreSQL state the URL, password included, comes from the environment
/// (`PARTREEL__STATE`, as for the daemon) and wins over the file's placeholder; a database
/// without partreel's tables is refused, saying to run a sync first, and left without them.
#[tokio::test(flavor = "multi_thread")]
async fn serve_takes_the_state_url_from_the_environment() {
    let Some(base) = database_url() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let state = Backend::Postgres(base.clone())
        .state(dir.path().join("unused.db"))
        .await;
    let placeholder = TestState::File(PathBuf::from("postgres://partreel@127.0.0.1:9/none"));
    let config = write_viewer_config(dir.path(), &placeholder, "");

    // No tables yet: refused, nothing created.
    let out = tokio::process::Command::new(bin())
        .args(["serve", "--config"])
        .arg(&config)
        .env("PARTREEL__STATE", state.location())
        .output()
        .await
        .expect("run partreel serve");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("run a sync first"), "{err}");

    seed_state(&state, &[("C-1", "http://127.0.0.1:9/x.webm".into())]).await;
    let viewer = Viewer::start_with(&config, &[("PARTREEL__STATE", &state.location())]).await;
    let r = viewer
        .get("/api/v1/parts/plm/VP-1/A", Some(TOKEN), &[])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body = r.text().await.expect("body");
    assert!(body.contains("prompt of C-1"), "{body}");
    drop(viewer);
    state.finish().await;
}
