//! The storage protocol's request parsing never panics: routing of any
//! method/path, the secret headers, Range-free CBOR bodies of every
//! endpoint. What a strict decoder accepts re-encodes and decodes to the
//! same value.
#![no_main]

use http::Method;
use lafs_http::auth::{SecretKind, Secrets};
use lafs_http::wire::{
    share_set_from_cbor, share_set_to_cbor, AdviseCorruptRequest, AllocateRequest,
    AllocateResponse, ReadTestWriteRequest, ReadTestWriteResponse, UploadProgress,
    VersionResponse,
};
use lafs_http::{Nurl, StorageEndpoint};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    match sel % 10 {
        0 => {
            if let Ok(path) = std::str::from_utf8(rest) {
                for m in [Method::GET, Method::PUT, Method::POST, Method::PATCH] {
                    if let Ok(ep) = StorageEndpoint::parse(&m, path) {
                        let _ = ep.required_secrets();
                    }
                }
                let _ = Nurl::parse(path);
            }
        }
        1 => {
            if let Ok(v) = AllocateRequest::from_cbor(rest) {
                assert_eq!(AllocateRequest::from_cbor(&v.to_cbor()).ok(), Some(v));
            }
        }
        2 => {
            if let Ok(v) = ReadTestWriteRequest::from_cbor(rest) {
                assert_eq!(ReadTestWriteRequest::from_cbor(&v.to_cbor()).ok(), Some(v));
            }
        }
        3 => {
            if let Ok(v) = AdviseCorruptRequest::from_cbor(rest) {
                assert_eq!(AdviseCorruptRequest::from_cbor(&v.to_cbor()).ok(), Some(v));
            }
        }
        4 => {
            if let Ok(v) = share_set_from_cbor(rest) {
                assert_eq!(share_set_from_cbor(&share_set_to_cbor(&v)).ok(), Some(v));
            }
        }
        5 => {
            if let Ok(v) = AllocateResponse::from_cbor(rest) {
                assert_eq!(AllocateResponse::from_cbor(&v.to_cbor()).ok(), Some(v));
            }
        }
        6 => {
            if let Ok(v) = ReadTestWriteResponse::from_cbor(rest) {
                assert_eq!(ReadTestWriteResponse::from_cbor(&v.to_cbor()).ok(), Some(v));
            }
        }
        7 => {
            if let Ok(v) = UploadProgress::from_cbor(rest) {
                assert_eq!(UploadProgress::from_cbor(&v.to_cbor()).ok(), Some(v));
            }
        }
        8 => {
            let _ = VersionResponse::from_cbor(rest);
        }
        _ => {
            // Secret header lines, split on newlines.
            let lines = rest.split(|b| *b == b'\n');
            let _ = Secrets::parse(
                lines,
                &[SecretKind::LeaseRenew, SecretKind::LeaseCancel, SecretKind::Upload],
            );
        }
    }
});
