//! What every emulator shares: the sim clock, fault injection, the rate limit, the request log,
//! paging helpers and the serving middleware.

pub(crate) mod base64;
pub mod clock;
pub mod faults;
pub(crate) mod paging;
pub mod ratelimit;
pub mod reqlog;
pub(crate) mod server;
