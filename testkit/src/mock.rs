//! The connectors' wiremock server: every test starts from one that answers a request no test
//! mounted with `500 unexpected request`, so a request a connector should not make fails the
//! test instead of passing unseen.

use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A mock server with the lowest-priority catch-all mounted (`500 unexpected request`).
pub async fn server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(500).set_body_string("unexpected request"))
        .with_priority(u8::MAX)
        .named("catch-all")
        .mount(&server)
        .await;
    server
}
