//! Every failure a web request can meet, and the one function that maps
//! it to Tahoe's status code and text (`web/common.py: humanize_exception`,
//! `WebError`): Tahoe answers errors as `text/plain` bodies, which the
//! `tahoe` CLI prints after the status line, so the texts are Tahoe's.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use lafs_client::mutable::MutableError;
use lafs_client::{DownloadError, FacadeError, UploadError};

/// Why a web request failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebError {
    /// A query argument or body is malformed (400).
    #[error("{0}")]
    BadRequest(String),
    /// An unknown or unsupported `t=` for this method and node (400).
    #[error("{method} {what}: bad t={t}")]
    BadT {
        /// GET, PUT, POST.
        method: &'static str,
        /// "file", "directory", "/uri".
        what: &'static str,
        /// The value given.
        t: String,
    },
    /// Not a cap Tahoe would accept in a URL (400).
    #[error("Invalid cap {0}")]
    BadCap(String),
    /// `//` inside a path (400).
    #[error("The webapi does not allow empty pathname components, i.e. a double slash")]
    EmptyPathComponent,
    /// The path names a child that does not exist (404).
    #[error("No such child: {0}")]
    NoSuchChild(String),
    /// A path continues below a file (404, Tahoe's FileNodeHandler).
    #[error("Files have no children named {0}")]
    FileHasNoChildren(String),
    /// The URL is not a web API path (404).
    #[error("No such resource")]
    NotFound,
    /// `/operations/H` for an unknown handle (404).
    #[error("unknown/expired handle '{0}'")]
    UnknownHandle(String),
    /// A child of that name exists and `replace=` forbade replacing (409).
    #[error("There was already a child by that name, and you asked me to not replace it.")]
    ChildExists,
    /// Writing through a read-only cap (400, like Tahoe's
    /// `NotWriteableError` / "read-only" WebErrors).
    #[error("{0} is read-only")]
    ReadOnly(String),
    /// A directory where a file was needed (400).
    #[error("{0}")]
    WrongKind(String),
    /// A child of an immutable directory that is not deep-immutable (400).
    #[error("MustBeDeepImmutableError: a cap passed to this operation for the child named '{0}', needed to be immutable but was not. Either the cap is being added to an immutable directory, or it was originally retrieved from an immutable directory as an unknown cap.")]
    NotImmutable(String),
    /// A `Range` the file cannot satisfy (416).
    #[error("Range not satisfiable")]
    RangeNotSatisfiable {
        /// File size for `Content-Range: bytes */SIZE`.
        size: u64,
    },
    /// Recognised but not built in lafs yet (501).
    #[error("{0}")]
    NotImplemented(&'static str),
    /// Not enough shares to read an immutable file (410).
    #[error("NotEnoughSharesError: This indicates that some servers were unavailable, or that shares have been lost to server departure, hard drive failure, or disk corruption. You should perform a filecheck on this object to learn more.\n\nThe full error message is:\n{0}")]
    NotEnoughShares(String),
    /// A directory or mutable file could not be retrieved (410).
    #[error("UnrecoverableFileError: the directory (or mutable file) could not be retrieved, because there were insufficient good shares. This might indicate that no servers were connected, insufficient servers were connected, the URI was corrupt, or that shares have been lost due to server departure, hard drive failure, or disk corruption. You should perform a filecheck on this object to learn more.")]
    Unrecoverable,
    /// The grid refused an upload or publish (500, as Tahoe answers
    /// `UploadUnhappinessError`).
    #[error("{0}")]
    Upload(String),
    /// Anything else the grid or the client library reported (500).
    #[error("{0}")]
    Grid(String),
    /// Local I/O (spool file, request body) failed (500).
    #[error("local I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl WebError {
    /// The status code Tahoe 1.20 answers with.
    pub fn status(&self) -> StatusCode {
        use WebError::*;
        match self {
            BadRequest(_)
            | BadT { .. }
            | BadCap(_)
            | EmptyPathComponent
            | WrongKind(_)
            | ReadOnly(_)
            | NotImmutable(_) => StatusCode::BAD_REQUEST,
            NoSuchChild(_) | FileHasNoChildren(_) | NotFound | UnknownHandle(_) => {
                StatusCode::NOT_FOUND
            }
            ChildExists => StatusCode::CONFLICT,
            RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            NotEnoughShares(_) | Unrecoverable => StatusCode::GONE,
            Upload(_) | Grid(_) | Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<FacadeError> for WebError {
    fn from(e: FacadeError) -> Self {
        use FacadeError as F;
        match e {
            F::NoSuchChild { path } => {
                WebError::NoSuchChild(path.rsplit('/').next().unwrap_or_default().to_string())
            }
            F::NotADirectory { path } => WebError::FileHasNoChildren(path),
            F::IsADirectory { path } => WebError::WrongKind(format!("{path} is a directory")),
            F::ChildExists { .. } => WebError::ChildExists,
            F::ReadOnly { what } => WebError::ReadOnly(what),
            F::VerifyCap => WebError::WrongKind("a verify cap cannot be read".into()),
            F::UnknownCap { path } => {
                WebError::WrongKind(format!("{path} has a cap of unknown kind"))
            }
            F::EmptyPath => WebError::BadRequest("the path is empty".into()),
            F::BadRange { size, .. } => WebError::RangeNotSatisfiable { size },
            F::NotImmutable { name } => WebError::NotImmutable(name),
            F::Download(d) => d.into(),
            F::Upload(u @ UploadError::NotHappy { .. }) => WebError::Upload(u.to_string()),
            F::Mutable(m) => m.into(),
            F::Io(io) => WebError::Io(io),
            other => WebError::Grid(other.to_string()),
        }
    }
}

impl From<DownloadError> for WebError {
    fn from(e: DownloadError) -> Self {
        match e {
            DownloadError::BadRange { size, .. } => WebError::RangeNotSatisfiable { size },
            e @ DownloadError::NotEnoughShares { .. } => WebError::NotEnoughShares(e.to_string()),
            e => WebError::Grid(e.to_string()),
        }
    }
}

impl From<MutableError> for WebError {
    fn from(e: MutableError) -> Self {
        match e {
            MutableError::NotFound | MutableError::Unrecoverable(_) => WebError::Unrecoverable,
            e @ MutableError::BadOffset { .. } => WebError::BadRequest(e.to_string()),
            e @ MutableError::NotEnoughPlaced { .. } => WebError::Upload(e.to_string()),
            e => WebError::Grid(e.to_string()),
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = format!("{self}\n");
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
