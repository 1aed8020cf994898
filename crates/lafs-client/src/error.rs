//! Errors of the client: per-request ([`ClientError`]) and per-operation
//! ([`UploadError`], [`DownloadError`]), the latter naming every server that
//! failed and why.

use std::fmt;

/// One storage request failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The in-process engine refused the request.
    #[error("storage server: {0}")]
    Storage(#[from] lafs_storage::StorageError),
    /// The request did not finish in time.
    #[error("timed out")]
    Timeout,
    /// The server answered with an unexpected HTTP status.
    #[error("HTTP status {status}")]
    Status {
        /// The status code.
        status: u16,
    },
    /// The connection or TLS failed.
    #[error("transport: {0}")]
    Transport(Box<dyn std::error::Error + Send + Sync>),
    /// The server's answer could not be decoded.
    #[error("malformed response: {0}")]
    Malformed(&'static str),
    /// The share does not exist on that server.
    #[error("no such share")]
    NoSuchShare,
    /// A mutable write was refused: the slot was created with another
    /// write enabler (HTTP 401 on read-test-write, spec §8.4 item 9, §9.3).
    #[error("bad write enabler")]
    BadWriteEnabler,
    /// This client does not implement the operation.
    #[error("operation not supported by this client: {0}")]
    Unsupported(&'static str),
}

/// A server's display name plus what went wrong there.
#[derive(Debug)]
pub struct ServerFailure {
    /// Server id (as in servers.yaml).
    pub server: String,
    /// What happened.
    pub error: ServerProblem,
}

/// What went wrong with one server during an operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerProblem {
    /// A request failed.
    #[error(transparent)]
    Request(#[from] ClientError),
    /// A share it served failed verification.
    #[error("share {shnum} is corrupt: {reason}")]
    Corrupt {
        /// Share number.
        shnum: u16,
        /// Which check failed.
        reason: String,
    },
    /// It accepted fewer shares than asked (full or read-only).
    #[error("refused shares {0:?}")]
    Refused(Vec<u16>),
    /// Its maximum immutable share size is below the share size.
    #[error("share of {need} bytes exceeds its limit of {limit}")]
    TooSmall {
        /// Bytes per share.
        need: u64,
        /// Its limit.
        limit: u64,
    },
}

impl fmt::Display for ServerFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.server, self.error)
    }
}

struct Failures<'a>(&'a [ServerFailure]);

impl fmt::Display for Failures<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("no server reported an error");
        }
        for (i, x) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{x}")?;
        }
        Ok(())
    }
}

/// Why an upload failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UploadError {
    /// Reading the input failed.
    #[error("reading input: {0}")]
    Io(#[from] std::io::Error),
    /// The encoder refused the parameters.
    #[error("encoding: {0}")]
    Encode(#[from] lafs_format::chk::encode::EncodeError),
    /// The input changed between the key pass and the encoding pass.
    #[error("input changed while uploading (size {expected} then {got})")]
    InputChanged {
        /// Size at the first pass.
        expected: u64,
        /// Bytes at the second pass.
        got: u64,
    },
    /// Shares could not be placed on `happy` distinct servers; every
    /// bucket this upload allocated was aborted.
    #[error("upload not happy: shares on {achieved} servers, {happy} needed ({} servers usable); {}", .usable, Failures(.failures))]
    NotHappy {
        /// Distinct servers holding distinct shares.
        achieved: usize,
        /// shares.happy.
        happy: u16,
        /// Servers that answered.
        usable: usize,
        /// What went wrong where.
        failures: Vec<ServerFailure>,
    },
    /// A worker thread died.
    #[error("internal task failed")]
    TaskFailed,
}

/// Why a download failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DownloadError {
    /// The cap is not a readable immutable file cap.
    #[error("not an immutable read cap (got {0})")]
    UnsupportedCap(&'static str),
    /// The byte range lies outside the file.
    #[error("range {start}..{end} is outside the file of {size} bytes")]
    BadRange {
        /// Start.
        start: u64,
        /// End (exclusive).
        end: u64,
        /// File size.
        size: u64,
    },
    /// Fewer than k good shares could be found for some segment.
    #[error("not enough good shares for segment {segment}: {found} of {needed} needed; {}", Failures(.failures))]
    NotEnoughShares {
        /// Segment that could not be built.
        segment: u64,
        /// Good shares found.
        found: usize,
        /// k.
        needed: u16,
        /// What went wrong where.
        failures: Vec<ServerFailure>,
    },
    /// Every block verified but the decoded segment does not match the
    /// crypttext hash tree: the uploader was malicious or buggy.
    #[error("segment {0} does not match the crypttext hash tree")]
    SegmentHash(u64),
    /// The erasure decoder refused its inputs.
    #[error("erasure decoding: {0}")]
    Fec(#[from] lafs_fec::FecError),
    /// A worker thread died.
    #[error("internal task failed")]
    TaskFailed,
}
