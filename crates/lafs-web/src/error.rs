//! Every failure a web request can meet, and the one function that maps
//! it to Tahoe's status code and text (`web/common.py: humanize_failure`,
//! `WebError`): Tahoe answers errors as `text/plain` bodies, which the
//! `tahoe` CLI prints verbatim after the status line.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// Why a web request failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebError {
    /// A query argument or body is malformed (400).
    #[error("{0}")]
    BadRequest(&'static str),
    /// An unknown or unsupported `t=` for this method and node (400).
    #[error("bad t={0}")]
    BadT(String),
    /// Not a cap Tahoe would accept in a URL (400).
    #[error("Invalid cap: {0}")]
    BadCap(String),
    /// The path names a child that does not exist (404).
    #[error("No such child: {0}")]
    NoSuchChild(String),
    /// The URL is not a web API path (404).
    #[error("No such resource")]
    NotFound,
    /// `GET /operations/H` for an unknown handle (404).
    #[error("unknown/expired handle '{0}'")]
    UnknownHandle(String),
    /// A child of that name exists and `replace=false` (409).
    #[error("There was already a child by that name, and you asked me to not replace it.")]
    ChildExists,
    /// `replace=only-files` and the existing child is a directory (409).
    #[error("There was already a child by that name, and you asked me to not replace it.")]
    ChildIsDirectory,
    /// Writing through a read-only cap (403... Tahoe's 400 `NotWriteableError`).
    #[error("Cannot modify a read-only directory or file")]
    ReadOnly,
    /// A file where a directory was needed, or the reverse (400).
    #[error("{0}")]
    WrongKind(&'static str),
    /// The request method is not allowed here (405).
    #[error("method not allowed")]
    MethodNotAllowed,
    /// A `Range` the file cannot satisfy (416).
    #[error("Range not satisfiable")]
    RangeNotSatisfiable {
        /// File size for `Content-Range: bytes */SIZE`.
        size: u64,
    },
    /// Recognised but not built in lafs yet (501).
    #[error("{0}")]
    NotImplemented(&'static str),
    /// Not enough shares or servers to read the file (410, Tahoe's
    /// `NotEnoughSharesError`/`NoSharesError`).
    #[error("{0}")]
    Unrecoverable(String),
    /// The grid refused an upload (not enough servers for happiness) (500
    /// in Tahoe, with the UploadUnhappinessError text).
    #[error("{0}")]
    Upload(String),
    /// Anything else the grid reported (500).
    #[error("{0}")]
    Grid(String),
    /// Local I/O (spool file) failed (500).
    #[error("local I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl WebError {
    /// The status code Tahoe 1.20 answers with.
    pub fn status(&self) -> StatusCode {
        use WebError::*;
        match self {
            BadRequest(_) | BadT(_) | BadCap(_) | WrongKind(_) | ReadOnly => {
                StatusCode::BAD_REQUEST
            }
            NoSuchChild(_) | NotFound | UnknownHandle(_) => StatusCode::NOT_FOUND,
            ChildExists | ChildIsDirectory => StatusCode::CONFLICT,
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            Unrecoverable(_) => StatusCode::GONE,
            Upload(_) | Grid(_) | Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut body = self.to_string();
        body.push('\n');
        let mut r = (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            body,
        )
            .into_response();
        if let WebError::RangeNotSatisfiable { size } = self {
            if let Ok(v) = format!("bytes */{size}").parse() {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
        }
        r
    }
}
