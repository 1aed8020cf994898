//! Netstrings (spec §1.2): `<decimal length>:<bytes>,`.

/// Why bytes are not a netstring.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NetstringError {
    /// No `:` after the length digits, or a non-digit in the length.
    #[error("netstring length prefix is malformed")]
    BadLength,
    /// The declared length runs past the end of the input.
    #[error("netstring declares {declared} bytes but only {available} remain")]
    Truncated {
        /// Declared length.
        declared: usize,
        /// Bytes available after the colon.
        available: usize,
    },
    /// The byte after the payload is not `,`.
    #[error("netstring is not terminated by ','")]
    MissingComma,
    /// Bytes were left over where the input should have ended.
    #[error("{0} trailing bytes after the last netstring")]
    TrailingBytes(usize),
}

/// Append `netstring(s)` to `out`.
pub fn write(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(s.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(s);
    out.push(b',');
}

/// `netstring(s)` as a new vector.
pub fn encode(s: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(s.len() + 12);
    write(&mut v, s);
    v
}

/// Parse one netstring at the start of `data`; returns the payload and the
/// rest of the input.
pub fn split(data: &[u8]) -> Result<(&[u8], &[u8]), NetstringError> {
    let colon = data
        .iter()
        .take(21)
        .position(|&b| b == b':')
        .ok_or(NetstringError::BadLength)?;
    let digits = &data[..colon];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(NetstringError::BadLength);
    }
    let len: usize = std::str::from_utf8(digits)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(NetstringError::BadLength)?;
    let rest = &data[colon + 1..];
    if rest.len() < len || rest.len() - len < 1 {
        return Err(NetstringError::Truncated {
            declared: len,
            available: rest.len(),
        });
    }
    if rest[len] != b',' {
        return Err(NetstringError::MissingComma);
    }
    Ok((&rest[..len], &rest[len + 1..]))
}

/// Parse exactly `n` netstrings that make up the whole of `data`.
pub fn split_exact<const N: usize>(mut data: &[u8]) -> Result<[&[u8]; N], NetstringError> {
    let mut out: [&[u8]; N] = [&[]; N];
    for slot in out.iter_mut() {
        let (s, rest) = split(data)?;
        *slot = s;
        data = rest;
    }
    if !data.is_empty() {
        return Err(NetstringError::TrailingBytes(data.len()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known() {
        assert_eq!(encode(b"hello"), b"5:hello,");
        assert_eq!(encode(b""), b"0:,");
        assert_eq!(
            split(b"5:hello,rest").unwrap(),
            (&b"hello"[..], &b"rest"[..])
        );
        assert!(matches!(
            split(b"5:hell"),
            Err(NetstringError::Truncated { .. })
        ));
        assert!(matches!(
            split(b"5:hello;"),
            Err(NetstringError::MissingComma)
        ));
        assert!(matches!(split(b"x:"), Err(NetstringError::BadLength)));
        assert!(matches!(split(b":,"), Err(NetstringError::BadLength)));
        assert!(matches!(
            split(b"99999999999999999999999:"),
            Err(NetstringError::BadLength)
        ));
    }

    proptest! {
        #[test]
        fn round_trip(a in proptest::collection::vec(any::<u8>(), 0..64),
                      b in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut v = encode(&a);
            write(&mut v, &b);
            let [x, y] = split_exact::<2>(&v).unwrap();
            prop_assert_eq!(x, &a[..]);
            prop_assert_eq!(y, &b[..]);
        }

        #[test]
        fn never_panics(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = split(&data);
            let _ = split_exact::<3>(&data);
        }
    }
}
