//! Where secrets come from: an environment variable or a file, never the configuration file
//! itself. Resolved values are held in `secrecy::SecretString`, whose `Debug` is redacted.

use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::Deserialize;

/// A reference to a secret (`{ env = "NAME" }` or `{ file = "path" }` in configuration).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum SecretRef {
    /// An environment variable's value.
    Env(String),
    /// A file's content, trailing newline removed. Relative paths are relative to the
    /// configuration file's folder.
    File(PathBuf),
}

/// A secret that could not be read. Names where it was looked for, never a value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The variable is not set or empty.
    #[error("secret {field}: environment variable {var} is not set")]
    MissingEnv {
        /// Configuration key that names the secret.
        field: String,
        /// Variable name.
        var: String,
    },
    /// The file is missing or unreadable or empty.
    #[error("secret {field}: cannot read {path}: {reason}")]
    File {
        /// Configuration key that names the secret.
        field: String,
        /// File path.
        path: String,
        /// Why.
        reason: String,
    },
}

impl SecretRef {
    /// Reads the secret. `field` is the configuration key, used in the error; `base` is the
    /// configuration file's folder.
    pub fn resolve(&self, field: &str, base: &Path) -> Result<SecretString, SecretError> {
        match self {
            SecretRef::Env(var) => match std::env::var(var) {
                Ok(v) if !v.is_empty() => Ok(SecretString::from(v)),
                _ => Err(SecretError::MissingEnv {
                    field: field.to_string(),
                    var: var.clone(),
                }),
            },
            SecretRef::File(p) => {
                let path = if p.is_absolute() {
                    p.clone()
                } else {
                    base.join(p)
                };
                let err = |reason: String| SecretError::File {
                    field: field.to_string(),
                    path: path.display().to_string(),
                    reason,
                };
                let text = std::fs::read_to_string(&path).map_err(|e| err(e.to_string()))?;
                let text = text.trim_end_matches(['\n', '\r']);
                if text.is_empty() {
                    return Err(err("the file is empty".into()));
                }
                Ok(SecretString::from(text.to_string()))
            }
        }
    }
}
