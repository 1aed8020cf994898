//! CBOR bodies of the storage protocol (spec §8.3, §8.4), strict both ways.
//!
//! Python 1.20 peers validate every body against a CDDL schema with pycddl,
//! which is strict: maps are closed (an extra key is rejected), key types
//! matter (the version response uses **byte-string** keys, everything else
//! text keys, the mutable maps unsigned-integer keys), and sets must be
//! wrapped in tag 258. So we decode into a generic CBOR value and check the
//! shape by hand, rejecting anything the schema would not accept, and we
//! encode exactly the schema and nothing more.
//!
//! | body | limit |
//! |---|---|
//! | allocate request | 8 KiB, ≤ 256 share numbers |
//! | corruption advisory | 32 KiB, reason 1..=32765 chars |
//! | read-test-write request | 2^48 bytes, ≤ 256 shares, ≤ 30 tests, ≤ 30 reads |

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use ciborium::value::{Integer, Value};
use lafs_format::container::{ReadVector, TestVector, TestWriteVectors, WriteVector};

/// CBOR tag Python uses for sets.
pub const SET_TAG: u64 = 258;
/// Largest allocate request body (Python: 8 KiB).
pub const MAX_ALLOCATE_BODY: usize = 8 * 1024;
/// Largest corruption advisory body (Python: 32 KiB).
pub const MAX_ADVISE_BODY: usize = 32 * 1024;
/// Largest read-test-write body Python accepts (2^48); we also bound what
/// we buffer in memory, see [`MAX_RTW_BUFFERED`].
pub const MAX_RTW_BODY: u64 = 1 << 48;
/// What this server buffers of one read-test-write body. A mutable share
/// write from a 1.20 client carries one whole share (for MDMF up to the
/// file size / k); 1 GiB keeps a single request from exhausting memory.
pub const MAX_RTW_BUFFERED: usize = 1 << 30;
/// Most share numbers in one request.
pub const MAX_SHARES: usize = 256;
/// Most test vectors per share and read vectors per request.
pub const MAX_VECTORS: usize = 30;
/// Longest advisory reason, in characters.
pub const MAX_REASON_CHARS: usize = 32765;
/// The version map's protocol key.
pub const PROTOCOL_V1: &[u8] = b"http://allmydata.org/tahoe/protocols/storage/v1";

/// Why a CBOR body was refused (HTTP 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// Not one well-formed CBOR item (or trailing bytes).
    #[error("malformed CBOR")]
    Malformed,
    /// The body is larger than the endpoint allows.
    #[error("body too large")]
    TooLarge,
    /// A value has the wrong CBOR type or shape.
    #[error("wrong type for {0}")]
    WrongType(&'static str),
    /// A required key is absent.
    #[error("missing key {0}")]
    MissingKey(&'static str),
    /// A key the schema does not allow (maps are closed).
    #[error("unexpected key")]
    UnexpectedKey,
    /// A set was not tagged 258.
    #[error("set without tag 258")]
    UntaggedSet,
    /// A share number above 255.
    #[error("share number out of range")]
    ShareNumber,
    /// Too many shares, vectors or characters.
    #[error("limit exceeded: {0}")]
    Limit(&'static str),
}

fn parse(bytes: &[u8]) -> Result<Value, WireError> {
    let mut cur = std::io::Cursor::new(bytes);
    let v: Value = ciborium::de::from_reader(&mut cur).map_err(|_| WireError::Malformed)?;
    if cur.position() != bytes.len() as u64 {
        return Err(WireError::Malformed);
    }
    Ok(v)
}

fn emit(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail; the fallback keeps this panic-free.
    if ciborium::ser::into_writer(v, &mut out).is_err() {
        out.clear();
    }
    out
}

fn uint(v: &Value, what: &'static str) -> Result<u64, WireError> {
    match v {
        Value::Integer(i) => u64::try_from(*i).map_err(|_| WireError::WrongType(what)),
        _ => Err(WireError::WrongType(what)),
    }
}

fn shnum(v: &Value) -> Result<u16, WireError> {
    let n = uint(v, "share number")?;
    if n > 255 {
        return Err(WireError::ShareNumber);
    }
    Ok(n as u16)
}

fn text_map<'a>(
    v: &'a Value,
    what: &'static str,
    keys: &[&'static str],
) -> Result<Vec<&'a Value>, WireError> {
    let Value::Map(entries) = v else {
        return Err(WireError::WrongType(what));
    };
    let mut found: Vec<Option<&Value>> = vec![None; keys.len()];
    for (k, val) in entries {
        let Value::Text(k) = k else {
            return Err(WireError::UnexpectedKey);
        };
        let i = keys
            .iter()
            .position(|w| w == k)
            .ok_or(WireError::UnexpectedKey)?;
        if found[i].replace(val).is_some() {
            return Err(WireError::UnexpectedKey);
        }
    }
    keys.iter()
        .zip(found)
        .map(|(k, f)| f.ok_or(WireError::MissingKey(k)))
        .collect()
}

fn array<'a>(v: &'a Value, what: &'static str) -> Result<&'a [Value], WireError> {
    match v {
        Value::Array(a) => Ok(a),
        _ => Err(WireError::WrongType(what)),
    }
}

fn set_of_shnums(v: &Value) -> Result<BTreeSet<u16>, WireError> {
    let Value::Tag(SET_TAG, inner) = v else {
        return Err(WireError::UntaggedSet);
    };
    let items = array(inner, "set")?;
    if items.len() > MAX_SHARES {
        return Err(WireError::Limit("share numbers"));
    }
    items.iter().map(shnum).collect()
}

fn encode_set(s: &BTreeSet<u16>) -> Value {
    Value::Tag(
        SET_TAG,
        Box::new(Value::Array(
            s.iter()
                .map(|n| Value::Integer(Integer::from(*n)))
                .collect(),
        )),
    )
}

fn t(s: &str) -> Value {
    Value::Text(s.to_owned())
}

fn u(n: u64) -> Value {
    Value::Integer(Integer::from(n))
}

/// `GET /storage/v1/version` response. All keys are byte strings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionResponse {
    /// `maximum-immutable-share-size`.
    pub maximum_immutable_share_size: u64,
    /// `maximum-mutable-share-size`.
    pub maximum_mutable_share_size: u64,
    /// `available-space`.
    pub available_space: u64,
    /// `application-version` (bytes, e.g. `lafs/0.1.0`).
    pub application_version: Vec<u8>,
}

impl VersionResponse {
    /// The exact CBOR Python clients validate.
    pub fn to_cbor(&self) -> Vec<u8> {
        let b = |s: &str| Value::Bytes(s.as_bytes().to_vec());
        let inner = Value::Map(vec![
            (
                b("maximum-immutable-share-size"),
                u(self.maximum_immutable_share_size),
            ),
            (
                b("maximum-mutable-share-size"),
                u(self.maximum_mutable_share_size),
            ),
            (b("available-space"), u(self.available_space)),
        ]);
        emit(&Value::Map(vec![
            (Value::Bytes(PROTOCOL_V1.to_vec()), inner),
            (
                b("application-version"),
                Value::Bytes(self.application_version.clone()),
            ),
        ]))
    }

    /// Parse a server's version response (client side). Unknown extra keys
    /// in the protocol map are tolerated here, as Python clients do.
    pub fn from_cbor(bytes: &[u8]) -> Result<Self, WireError> {
        let v = parse(bytes)?;
        let Value::Map(top) = v else {
            return Err(WireError::WrongType("version"));
        };
        let get = |m: &[(Value, Value)], k: &[u8]| {
            m.iter()
                .find(|(key, _)| matches!(key, Value::Bytes(b) if b == k))
                .map(|(_, v)| v.clone())
        };
        let Some(Value::Map(inner)) = get(&top, PROTOCOL_V1) else {
            return Err(WireError::MissingKey("protocol v1"));
        };
        let field = |k: &'static str| {
            get(&inner, k.as_bytes())
                .ok_or(WireError::MissingKey(k))
                .and_then(|v| uint(&v, k))
        };
        Ok(VersionResponse {
            maximum_immutable_share_size: field("maximum-immutable-share-size")?,
            maximum_mutable_share_size: field("maximum-mutable-share-size")?,
            available_space: field("available-space")?,
            application_version: match get(&top, b"application-version") {
                Some(Value::Bytes(b)) => b,
                _ => Vec::new(),
            },
        })
    }
}

/// `POST /storage/v1/immutable/SI` request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllocateRequest {
    /// Shares to allocate (≤ 256, each ≤ 255).
    pub share_numbers: BTreeSet<u16>,
    /// Size of each share's data.
    pub allocated_size: u64,
}

impl AllocateRequest {
    /// Validating constructor.
    pub fn new(share_numbers: BTreeSet<u16>, allocated_size: u64) -> Result<Self, WireError> {
        if share_numbers.len() > MAX_SHARES {
            return Err(WireError::Limit("share numbers"));
        }
        if share_numbers.iter().any(|n| *n > 255) {
            return Err(WireError::ShareNumber);
        }
        Ok(AllocateRequest {
            share_numbers,
            allocated_size,
        })
    }
    /// Strict decode.
    pub fn from_cbor(bytes: &[u8]) -> Result<Self, WireError> {
        if bytes.len() > MAX_ALLOCATE_BODY {
            return Err(WireError::TooLarge);
        }
        let v = parse(bytes)?;
        let f = text_map(&v, "allocate", &["share-numbers", "allocated-size"])?;
        AllocateRequest::new(set_of_shnums(f[0])?, uint(f[1], "allocated-size")?)
    }
    /// Encode.
    pub fn to_cbor(&self) -> Vec<u8> {
        emit(&Value::Map(vec![
            (t("share-numbers"), encode_set(&self.share_numbers)),
            (t("allocated-size"), u(self.allocated_size)),
        ]))
    }
}

/// `POST /storage/v1/immutable/SI` response.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllocateResponse {
    /// Every complete share of the storage index.
    pub already_have: BTreeSet<u16>,
    /// Shares allocated to this upload.
    pub allocated: BTreeSet<u16>,
}

impl AllocateResponse {
    /// Encode.
    pub fn to_cbor(&self) -> Vec<u8> {
        emit(&Value::Map(vec![
            (t("already-have"), encode_set(&self.already_have)),
            (t("allocated"), encode_set(&self.allocated)),
        ]))
    }
    /// Strict decode.
    pub fn from_cbor(bytes: &[u8]) -> Result<Self, WireError> {
        let v = parse(bytes)?;
        let f = text_map(&v, "allocate response", &["already-have", "allocated"])?;
        Ok(AllocateResponse {
            already_have: set_of_shnums(f[0])?,
            allocated: set_of_shnums(f[1])?,
        })
    }
}

/// The body of a successful immutable PATCH (200 while incomplete, 201 once
/// complete with `required` empty).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UploadProgress {
    /// Byte ranges still missing, end exclusive.
    pub required: Vec<Range<u64>>,
}

impl UploadProgress {
    /// Encode.
    pub fn to_cbor(&self) -> Vec<u8> {
        emit(&Value::Map(vec![(
            t("required"),
            Value::Array(
                self.required
                    .iter()
                    .map(|r| Value::Map(vec![(t("begin"), u(r.start)), (t("end"), u(r.end))]))
                    .collect(),
            ),
        )]))
    }
    /// Strict decode.
    pub fn from_cbor(bytes: &[u8]) -> Result<Self, WireError> {
        let v = parse(bytes)?;
        let f = text_map(&v, "upload progress", &["required"])?;
        let required = array(f[0], "required")?
            .iter()
            .map(|r| {
                let g = text_map(r, "range", &["begin", "end"])?;
                Ok(uint(g[0], "begin")?..uint(g[1], "end")?)
            })
            .collect::<Result<_, WireError>>()?;
        Ok(UploadProgress { required })
    }
}

/// A set of share numbers (`GET …/shares`), tag 258.
pub fn share_set_to_cbor(s: &BTreeSet<u16>) -> Vec<u8> {
    emit(&encode_set(s))
}

/// Strict decode of a tagged share set.
pub fn share_set_from_cbor(bytes: &[u8]) -> Result<BTreeSet<u16>, WireError> {
    set_of_shnums(&parse(bytes)?)
}

/// `POST …/SI/N/corrupt` request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdviseCorruptRequest {
    /// Free text, 1..=32765 characters.
    pub reason: String,
}

impl AdviseCorruptRequest {
    /// Validating constructor.
    pub fn new(reason: String) -> Result<Self, WireError> {
        let n = reason.chars().count();
        if n == 0 || n > MAX_REASON_CHARS {
            return Err(WireError::Limit("reason length"));
        }
        Ok(AdviseCorruptRequest { reason })
    }
    /// Strict decode.
    pub fn from_cbor(bytes: &[u8]) -> Result<Self, WireError> {
        if bytes.len() > MAX_ADVISE_BODY {
            return Err(WireError::TooLarge);
        }
        let v = parse(bytes)?;
        let f = text_map(&v, "advisory", &["reason"])?;
        match f[0] {
            Value::Text(s) => AdviseCorruptRequest::new(s.clone()),
            _ => Err(WireError::WrongType("reason")),
        }
    }
    /// Encode.
    pub fn to_cbor(&self) -> Vec<u8> {
        emit(&Value::Map(vec![(t("reason"), t(&self.reason))]))
    }
}

/// `POST /storage/v1/mutable/SI/read-test-write` request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadTestWriteRequest {
    /// Per share: tests, writes, new length.
    pub test_write_vectors: BTreeMap<u16, TestWriteVectors>,
    /// Reads evaluated on existing shares before writing.
    pub read_vector: Vec<ReadVector>,
}

impl ReadTestWriteRequest {
    /// Validating constructor.
    pub fn new(
        test_write_vectors: BTreeMap<u16, TestWriteVectors>,
        read_vector: Vec<ReadVector>,
    ) -> Result<Self, WireError> {
        if test_write_vectors.len() > MAX_SHARES {
            return Err(WireError::Limit("shares"));
        }
        if test_write_vectors.keys().any(|n| *n > 255) {
            return Err(WireError::ShareNumber);
        }
        if test_write_vectors
            .values()
            .any(|v| v.test.len() > MAX_VECTORS)
        {
            return Err(WireError::Limit("test vectors"));
        }
        if read_vector.len() > MAX_VECTORS {
            return Err(WireError::Limit("read vectors"));
        }
        Ok(ReadTestWriteRequest {
            test_write_vectors,
            read_vector,
        })
    }

    /// Strict decode.
    pub fn from_cbor(bytes: &[u8]) -> Result<Self, WireError> {
        if bytes.len() as u64 > MAX_RTW_BODY {
            return Err(WireError::TooLarge);
        }
        let v = parse(bytes)?;
        let f = text_map(
            &v,
            "read-test-write",
            &["test-write-vectors", "read-vector"],
        )?;
        let Value::Map(shares) = f[0] else {
            return Err(WireError::WrongType("test-write-vectors"));
        };
        if shares.len() > MAX_SHARES {
            return Err(WireError::Limit("shares"));
        }
        let mut tw = BTreeMap::new();
        for (k, val) in shares {
            let n = shnum(k)?;
            let g = text_map(val, "test-write", &["test", "write", "new-length"])?;
            let tests = array(g[0], "test")?;
            if tests.len() > MAX_VECTORS {
                return Err(WireError::Limit("test vectors"));
            }
            let test = tests
                .iter()
                .map(|tv| {
                    let h = text_map(tv, "test vector", &["offset", "size", "specimen"])?;
                    Ok(TestVector {
                        offset: uint(h[0], "offset")?,
                        size: uint(h[1], "size")?,
                        specimen: bytes_of(h[2], "specimen")?,
                    })
                })
                .collect::<Result<_, WireError>>()?;
            let write = array(g[1], "write")?
                .iter()
                .map(|wv| {
                    let h = text_map(wv, "write vector", &["offset", "data"])?;
                    Ok(WriteVector {
                        offset: uint(h[0], "offset")?,
                        data: bytes_of(h[1], "data")?,
                    })
                })
                .collect::<Result<_, WireError>>()?;
            let new_length = match g[2] {
                Value::Null => None,
                other => Some(uint(other, "new-length")?),
            };
            if tw
                .insert(
                    n,
                    TestWriteVectors {
                        test,
                        write,
                        new_length,
                    },
                )
                .is_some()
            {
                return Err(WireError::UnexpectedKey);
            }
        }
        let reads = array(f[1], "read-vector")?;
        if reads.len() > MAX_VECTORS {
            return Err(WireError::Limit("read vectors"));
        }
        let read_vector = reads
            .iter()
            .map(|rv| {
                let h = text_map(rv, "read vector", &["offset", "size"])?;
                Ok(ReadVector {
                    offset: uint(h[0], "offset")?,
                    size: uint(h[1], "size")?,
                })
            })
            .collect::<Result<_, WireError>>()?;
        ReadTestWriteRequest::new(tw, read_vector)
    }

    /// Encode.
    pub fn to_cbor(&self) -> Vec<u8> {
        let shares = self
            .test_write_vectors
            .iter()
            .map(|(n, v)| {
                let test = v
                    .test
                    .iter()
                    .map(|tv| {
                        Value::Map(vec![
                            (t("offset"), u(tv.offset)),
                            (t("size"), u(tv.size)),
                            (t("specimen"), Value::Bytes(tv.specimen.clone())),
                        ])
                    })
                    .collect();
                let write = v
                    .write
                    .iter()
                    .map(|wv| {
                        Value::Map(vec![
                            (t("offset"), u(wv.offset)),
                            (t("data"), Value::Bytes(wv.data.clone())),
                        ])
                    })
                    .collect();
                (
                    u(u64::from(*n)),
                    Value::Map(vec![
                        (t("test"), Value::Array(test)),
                        (t("write"), Value::Array(write)),
                        (t("new-length"), v.new_length.map_or(Value::Null, u)),
                    ]),
                )
            })
            .collect();
        let reads = self
            .read_vector
            .iter()
            .map(|r| Value::Map(vec![(t("offset"), u(r.offset)), (t("size"), u(r.size))]))
            .collect();
        emit(&Value::Map(vec![
            (t("test-write-vectors"), Value::Map(shares)),
            (t("read-vector"), Value::Array(reads)),
        ]))
    }
}

fn bytes_of(v: &Value, what: &'static str) -> Result<Vec<u8>, WireError> {
    match v {
        Value::Bytes(b) => Ok(b.clone()),
        _ => Err(WireError::WrongType(what)),
    }
}

/// `POST …/read-test-write` response.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadTestWriteResponse {
    /// Whether all tests passed (and the writes were applied).
    pub success: bool,
    /// Read results per share that existed before the write.
    pub data: BTreeMap<u16, Vec<Vec<u8>>>,
}

impl ReadTestWriteResponse {
    /// Encode.
    pub fn to_cbor(&self) -> Vec<u8> {
        let data = self
            .data
            .iter()
            .map(|(n, reads)| {
                (
                    u(u64::from(*n)),
                    Value::Array(reads.iter().map(|r| Value::Bytes(r.clone())).collect()),
                )
            })
            .collect();
        emit(&Value::Map(vec![
            (t("success"), Value::Bool(self.success)),
            (t("data"), Value::Map(data)),
        ]))
    }
    /// Strict decode.
    pub fn from_cbor(bytes: &[u8]) -> Result<Self, WireError> {
        let v = parse(bytes)?;
        let f = text_map(&v, "read-test-write response", &["success", "data"])?;
        let Value::Bool(success) = f[0] else {
            return Err(WireError::WrongType("success"));
        };
        let Value::Map(entries) = f[1] else {
            return Err(WireError::WrongType("data"));
        };
        let mut data = BTreeMap::new();
        for (k, v) in entries {
            let reads = array(v, "reads")?
                .iter()
                .map(|r| bytes_of(r, "read"))
                .collect::<Result<_, _>>()?;
            data.insert(shnum(k)?, reads);
        }
        Ok(ReadTestWriteResponse {
            success: *success,
            data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn version_matches_python_bytes() {
        // Recorded from a Python 1.20 server (exchanges.jsonl seq 0).
        let py = hex("a2582f687474703a2f2f616c6c6d79646174612e6f72672f7461686f652f70726f746f636f6c732f73746f726167652f7631a3581c6d6178696d756d2d696d6d757461626c652d73686172652d73697a651b0000001282998600581a6d6178696d756d2d6d757461626c652d73686172652d73697a651b00f582a1a13410004f617661696c61626c652d73706163651b0000001282998600536170706c69636174696f6e2d76657273696f6e517461686f652d6c6166732f312e32302e30");
        let v = VersionResponse::from_cbor(&py).unwrap();
        assert_eq!(v.maximum_mutable_share_size, 69_105_000_000_000_000);
        assert_eq!(v.to_cbor(), py);
    }

    #[test]
    fn allocate_is_strict() {
        let ok = AllocateRequest::new([0, 1].into(), 10).unwrap();
        assert_eq!(AllocateRequest::from_cbor(&ok.to_cbor()).unwrap(), ok);
        // Untagged set.
        let untagged = emit(&Value::Map(vec![
            (t("share-numbers"), Value::Array(vec![u(0)])),
            (t("allocated-size"), u(10)),
        ]));
        assert_eq!(
            AllocateRequest::from_cbor(&untagged),
            Err(WireError::UntaggedSet)
        );
        // Extra key.
        let extra = emit(&Value::Map(vec![
            (t("share-numbers"), encode_set(&[3].into())),
            (t("allocated-size"), u(10)),
            (t("x"), u(1)),
        ]));
        assert_eq!(
            AllocateRequest::from_cbor(&extra),
            Err(WireError::UnexpectedKey)
        );
        // Not a map, trailing bytes, share number 256, too many shares.
        assert!(AllocateRequest::from_cbor(&emit(&u(10))).is_err());
        let mut trailing = ok.to_cbor();
        trailing.push(0);
        assert_eq!(
            AllocateRequest::from_cbor(&trailing),
            Err(WireError::Malformed)
        );
        let big = emit(&Value::Map(vec![
            (
                t("share-numbers"),
                Value::Tag(SET_TAG, Box::new(Value::Array(vec![u(256)]))),
            ),
            (t("allocated-size"), u(10)),
        ]));
        assert_eq!(
            AllocateRequest::from_cbor(&big),
            Err(WireError::ShareNumber)
        );
        assert!(AllocateRequest::new((0..=256).collect(), 1).is_err());
        assert_eq!(
            AllocateRequest::from_cbor(&vec![0; MAX_ALLOCATE_BODY + 1]),
            Err(WireError::TooLarge)
        );
    }

    #[test]
    fn advisory_limits() {
        assert!(AdviseCorruptRequest::new(String::new()).is_err());
        assert!(AdviseCorruptRequest::new("x".repeat(MAX_REASON_CHARS)).is_ok());
        assert!(AdviseCorruptRequest::new("x".repeat(MAX_REASON_CHARS + 1)).is_err());
        let non_text = emit(&Value::Map(vec![(t("reason"), u(5))]));
        assert_eq!(
            AdviseCorruptRequest::from_cbor(&non_text),
            Err(WireError::WrongType("reason"))
        );
    }

    #[test]
    fn read_test_write_roundtrip_and_limits() {
        let mut tw = BTreeMap::new();
        tw.insert(
            0,
            TestWriteVectors {
                test: vec![TestVector {
                    offset: 0,
                    size: 5,
                    specimen: b"hello".to_vec(),
                }],
                write: vec![WriteVector {
                    offset: 6,
                    data: b"WORLD".to_vec(),
                }],
                new_length: None,
            },
        );
        let req = ReadTestWriteRequest::new(
            tw,
            vec![ReadVector {
                offset: 0,
                size: 20,
            }],
        )
        .unwrap();
        assert_eq!(
            ReadTestWriteRequest::from_cbor(&req.to_cbor()).unwrap(),
            req
        );
        // A text share number (Python answers 500; we answer 400).
        let text_key = emit(&Value::Map(vec![
            (
                t("test-write-vectors"),
                Value::Map(vec![(
                    t("0"),
                    Value::Map(vec![
                        (t("test"), Value::Array(vec![])),
                        (t("write"), Value::Array(vec![])),
                        (t("new-length"), Value::Null),
                    ]),
                )]),
            ),
            (t("read-vector"), Value::Array(vec![])),
        ]));
        assert!(ReadTestWriteRequest::from_cbor(&text_key).is_err());
        let many_reads = vec![ReadVector { offset: 0, size: 1 }; MAX_VECTORS + 1];
        assert!(ReadTestWriteRequest::new(BTreeMap::new(), many_reads).is_err());
        let resp = ReadTestWriteResponse {
            success: true,
            data: [(0u16, vec![b"hello world".to_vec()])].into(),
        };
        assert_eq!(
            ReadTestWriteResponse::from_cbor(&resp.to_cbor()).unwrap(),
            resp
        );
    }

    #[test]
    fn progress_and_sets() {
        let p = UploadProgress {
            required: vec![5..10, 12..20],
        };
        assert_eq!(UploadProgress::from_cbor(&p.to_cbor()).unwrap(), p);
        let s: BTreeSet<u16> = [1, 7].into();
        assert_eq!(share_set_from_cbor(&share_set_to_cbor(&s)).unwrap(), s);
        // Empty set is d9 0102 80.
        assert_eq!(
            share_set_to_cbor(&BTreeSet::new()),
            vec![0xd9, 0x01, 0x02, 0x80]
        );
    }
}
