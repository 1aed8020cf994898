//! [`AlignedBuf`]: a zeroed byte buffer whose start is 64-byte aligned.
//!
//! The kernels accept any alignment, but 512-bit loads that straddle cache
//! lines cost about twice as much, so buffers this crate's users allocate
//! for shares should start on a cache line. The buffer over-allocates by 63
//! bytes and starts at the first aligned offset, which needs no unsafe code.

const ALIGN: usize = 64;

/// A heap byte buffer of fixed length whose first byte is 64-byte aligned.
#[derive(Default)]
pub struct AlignedBuf {
    storage: Vec<u8>,
    offset: usize,
    len: usize,
}

impl AlignedBuf {
    /// A zeroed buffer of `len` bytes.
    pub fn new(len: usize) -> AlignedBuf {
        let storage = vec![0u8; len + ALIGN - 1];
        // `align_offset` may in theory refuse (usize::MAX); then keep offset
        // 0 and simply be unaligned, which is still correct.
        let offset = match storage.as_ptr().align_offset(ALIGN) {
            o if o < ALIGN => o,
            _ => 0,
        };
        AlignedBuf {
            storage,
            offset,
            len,
        }
    }

    /// A buffer holding a copy of `data`.
    pub fn from_slice(data: &[u8]) -> AlignedBuf {
        let mut b = AlignedBuf::new(data.len());
        b.copy_from_slice(data);
        b
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.storage[self.offset..self.offset + self.len]
    }

    /// The bytes, mutably.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.storage[self.offset..self.offset + self.len]
    }
}

// Cloning the storage `Vec` could land on a different alignment, so clone
// by copying into a freshly aligned buffer.
impl Clone for AlignedBuf {
    fn clone(&self) -> Self {
        AlignedBuf::from_slice(self)
    }
}

impl std::ops::Deref for AlignedBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl std::ops::DerefMut for AlignedBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        self.as_mut_slice()
    }
}

impl std::fmt::Debug for AlignedBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlignedBuf")
            .field("len", &self.len)
            .finish()
    }
}

impl PartialEq for AlignedBuf {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for AlignedBuf {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_and_sized() {
        for len in [0, 1, 63, 64, 65, 1000, 4096] {
            let b = AlignedBuf::new(len);
            assert_eq!(b.len(), len);
            assert_eq!(b.as_ptr() as usize % ALIGN, 0);
            assert!(b.iter().all(|&x| x == 0));
        }
        assert_eq!(&*AlignedBuf::from_slice(b"abc"), b"abc");
    }
}
