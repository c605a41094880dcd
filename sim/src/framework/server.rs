//! The serving half shared by every emulator: a listener whose connections can be killed
//! mid-response, the middleware that rate-limits, injects faults, stamps the sim-clock `Date`
//! header and logs each request, and `serve(listener, app, shutdown)`.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::serve::{IncomingStream, Listener};
use futures::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use super::clock::SimClock;
use super::faults::{Decision, FaultControl, FaultKind};
use super::reqlog::{RequestEntry, RequestLog, System};

/// Path prefix of the control routes; never faulted, limited or logged.
pub(crate) const CONTROL_PREFIX: &str = "/__sim/";

/// How long a truncated body waits after its first half so the half reaches the client.
const TRUNCATE_FLUSH: Duration = Duration::from_millis(20);

/// A TCP listener whose connections carry a kill switch (see [`ConnKill`]).
pub(crate) struct SimListener(pub(crate) TcpListener);

/// A TCP stream that fails every read and write once its kill switch is thrown, so hyper drops
/// the connection without writing anything more.
pub(crate) struct SimStream {
    inner: TcpStream,
    kill: Arc<AtomicBool>,
}

/// The kill switch of the connection a request arrived on (a request extension through
/// `ConnectInfo`).
#[derive(Debug, Clone)]
pub(crate) struct ConnKill(Arc<AtomicBool>);

impl ConnKill {
    fn trigger(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

impl Listener for SimListener {
    type Io = SimStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((inner, addr)) => {
                    let _ = inner.set_nodelay(true);
                    let kill = Arc::new(AtomicBool::new(false));
                    return (SimStream { inner, kill }, addr);
                }
                Err(e) => {
                    tracing::debug!(error = %e, "sim accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

impl Connected<IncomingStream<'_, SimListener>> for ConnKill {
    fn connect_info(stream: IncomingStream<'_, SimListener>) -> Self {
        ConnKill(stream.io().kill.clone())
    }
}

fn killed() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionReset, "sim: connection killed")
}

impl AsyncRead for SimStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.kill.load(Ordering::SeqCst) {
            return Poll::Ready(Err(killed()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for SimStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.kill.load(Ordering::SeqCst) {
            return Poll::Ready(Err(killed()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.kill.load(Ordering::SeqCst) {
            return Poll::Ready(Err(killed()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// What the shared middleware needs to know about one emulator.
#[derive(Clone)]
pub(crate) struct Framework {
    /// Which system (selects the error body shape and the 429 headers).
    pub(crate) system: System,
    /// Shared sim clock.
    pub(crate) clock: SimClock,
    /// Fault switchboard.
    pub(crate) faults: FaultControl,
    /// Request log.
    pub(crate) log: RequestLog,
    /// True for requests that read data (lists and records) and may get a malformed body.
    pub(crate) is_data_read: fn(&Method, &str) -> bool,
}

/// The vendor's error body for `status`.
pub(crate) fn vendor_error(
    system: System,
    status: StatusCode,
    code: &str,
    message: &str,
) -> Response {
    (system.emulated().error)(status, code, message)
}

fn too_many(system: System, retry_after: Duration) -> Response {
    let mut r = vendor_error(
        system,
        StatusCode::TOO_MANY_REQUESTS,
        "TOO_MANY_REQUESTS",
        "Too Many Requests",
    );
    if system.emulated().retry_after {
        let secs = retry_after.as_secs_f64().ceil().max(1.0) as u64;
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    r
}

fn malformed(system: System) -> Response {
    let body = system.emulated().malformed;
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Re-sends `resp` declaring its full length but delivering only half, then kills the connection.
async fn truncate(resp: Response, kill: Option<ConnKill>) -> Response {
    let (mut parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let half = bytes.slice(..bytes.len() / 2);
    parts.headers.remove(header::TRANSFER_ENCODING);
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    let head = futures::stream::once(async move { Ok::<Bytes, io::Error>(half) });
    let tail = futures::stream::once(async move {
        tokio::time::sleep(TRUNCATE_FLUSH).await;
        if let Some(k) = kill {
            k.trigger();
        }
        Err::<Bytes, io::Error>(io::Error::new(
            io::ErrorKind::ConnectionAborted,
            "sim: truncated",
        ))
    });
    Response::from_parts(parts, Body::from_stream(head.chain(tail)))
}

/// The shared middleware: control routes pass straight through; vendor routes are rate-limited,
/// maybe faulted, stamped with the sim-clock `Date` and logged.
pub(crate) async fn middleware(State(fw): State<Framework>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    if path.starts_with(CONTROL_PREFIX) {
        let mut resp = next.run(req).await;
        stamp_date(&mut resp, &fw.clock);
        return resp;
    }
    let at = fw.clock.now();
    let method = req.method().clone();
    let query = req.uri().query().unwrap_or_default().to_owned();
    let kill = req
        .extensions()
        .get::<ConnectInfo<ConnKill>>()
        .map(|c| c.0.clone());
    let decision = fw.faults.decide((fw.is_data_read)(&method, &path));
    let mut status_override = None;
    let (mut resp, fault) = match decision {
        Decision::Pass => (next.run(req).await, None),
        Decision::Throttled(wait) => (too_many(fw.system, wait), Some("throttled".to_owned())),
        Decision::Malformed => (malformed(fw.system), Some("malformed".to_owned())),
        Decision::Fault(kind) => {
            let label = Some(kind.label());
            match kind {
                FaultKind::ServerError(code) => {
                    let status =
                        StatusCode::from_u16(code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
                    let msg = status.canonical_reason().unwrap_or("Server Error");
                    (
                        vendor_error(fw.system, status, "INTERNAL_ERROR", msg),
                        label,
                    )
                }
                FaultKind::RateLimited => (too_many(fw.system, Duration::from_secs(1)), label),
                FaultKind::Reset => {
                    status_override = Some(0);
                    match &kill {
                        Some(k) => {
                            k.trigger();
                            (StatusCode::INTERNAL_SERVER_ERROR.into_response(), label)
                        }
                        // No socket (an in-process `oneshot` test): a body that fails at once.
                        None => {
                            let body =
                                futures::stream::once(async { Err::<Bytes, io::Error>(killed()) });
                            (Body::from_stream(body).into_response(), label)
                        }
                    }
                }
                FaultKind::Latency(d) => {
                    tokio::time::sleep(d).await;
                    (next.run(req).await, label)
                }
                FaultKind::Truncated => {
                    let resp = next.run(req).await;
                    (truncate(resp, kill).await, label)
                }
            }
        }
    };
    stamp_date(&mut resp, &fw.clock);
    fw.log.push(RequestEntry {
        system: fw.system,
        method: method.to_string(),
        path,
        query,
        status: status_override.unwrap_or(resp.status().as_u16()),
        at,
        fault,
    });
    resp
}

fn stamp_date(resp: &mut Response, clock: &SimClock) {
    if let Ok(v) = HeaderValue::from_str(&clock.http_date()) {
        resp.headers_mut().insert(header::DATE, v);
    }
}

/// Wraps an emulator's routes with the shared middleware.
pub(crate) fn wrap(app: Router, fw: Framework) -> Router {
    app.layer(axum::middleware::from_fn_with_state(fw, middleware))
}

/// Serves `app` on `listener` until `shutdown` completes.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    axum::serve(
        SimListener(listener),
        app.into_make_service_with_connect_info::<ConnKill>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
