//! Downloading a clip's original file to disk with bounded memory: the body is streamed chunk
//! by chunk into a `.partial` file next to `dest`, hashed on the way, and renamed to `dest` only
//! when it is complete. Over the size limit or cut short, the partial file is removed and the
//! download fails; the file is never held in memory.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::evidence::ProvenanceError;
use crate::http::{Auth, HttpClient, Request};

/// What was downloaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadInfo {
    /// Bytes written to `dest`.
    pub bytes: u64,
    /// SHA-256 of those bytes, lowercase hex.
    pub sha256: String,
}

/// Streams `req` (a URL is a plain GET) to `dest` through `http` (its retry policy applies,
/// and its rate limit unless the request is [`Request::off_api`]), refusing more than
/// `max_bytes`. `auth` adds credentials: pass [`crate::http::NoAuth`] for pre-signed URLs
/// (e.g. Bynder's S3 links), so a DAM token never travels to another host.
pub async fn download(
    http: &HttpClient,
    auth: &dyn Auth,
    req: impl Into<Request>,
    dest: &Path,
    max_bytes: u64,
) -> Result<DownloadInfo, ProvenanceError> {
    let mut resp = http.send_streaming(req.into(), auth).await?;
    if let Some(len) = resp.content_length()
        && len > max_bytes
    {
        return Err(ProvenanceError::TooLarge { limit: max_bytes });
    }
    let announced = resp.content_length();
    let partial = partial_path(dest);
    let mut file = tokio::fs::File::create(&partial)
        .await
        .map_err(|e| ProvenanceError::io(&partial, e))?;
    let result = async {
        let mut hasher = Sha256::new();
        let mut bytes: u64 = 0;
        loop {
            let chunk = match resp.chunk().await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => break,
                Err(e) => {
                    return Err(ProvenanceError::Truncated {
                        detail: format!("after {bytes} bytes: {}", body_error(&e)),
                    });
                }
            };
            bytes += chunk.len() as u64;
            if bytes > max_bytes {
                return Err(ProvenanceError::TooLarge { limit: max_bytes });
            }
            hasher.update(&chunk);
            file.write_all(&chunk)
                .await
                .map_err(|e| ProvenanceError::io(&partial, e))?;
        }
        if let Some(len) = announced
            && bytes != len
        {
            return Err(ProvenanceError::Truncated {
                detail: format!("received {bytes} of {len} bytes"),
            });
        }
        file.flush()
            .await
            .map_err(|e| ProvenanceError::io(&partial, e))?;
        Ok(DownloadInfo {
            bytes,
            sha256: hex::encode(hasher.finalize()),
        })
    }
    .await;
    drop(file);
    match result {
        Ok(info) => {
            tokio::fs::rename(&partial, dest)
                .await
                .map_err(|e| ProvenanceError::io(dest, e))?;
            Ok(info)
        }
        Err(e) => {
            // Best effort: a leftover partial file is overwritten by the next attempt.
            let _ = tokio::fs::remove_file(&partial).await;
            Err(e)
        }
    }
}

/// `dest` with `.partial` appended to its file name.
fn partial_path(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    dest.with_file_name(name)
}

/// The kind of body failure, without the URL (a pre-signed URL's query is a credential).
fn body_error(e: &reqwest::Error) -> String {
    let mut detail = if e.is_timeout() {
        "timed out".to_string()
    } else {
        "connection broke".to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        detail = format!("{detail}: {s}");
        source = s.source();
    }
    detail
}
