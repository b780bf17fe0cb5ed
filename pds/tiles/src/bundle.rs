//! Entry bundle encoding: each entry prefixed by its big-endian u16 length,
//! concatenated (C2SP tlog-tiles "entry bundles"). Bundle N holds entries
//! 256·N .. 256·N+255.
//!
//! This module only encodes and decodes bytes; it never hashes, allocates per
//! entry beyond the caller's buffer growth, or looks at storage.

use alloc::vec::Vec;

use crate::error::TileError;
use crate::MAX_ENTRY_LEN;

/// Append one length-prefixed entry to an encoded bundle; rejects entries
/// longer than [`MAX_ENTRY_LEN`] without touching `bundle`.
#[inline]
pub fn bundle_push(bundle: &mut Vec<u8>, entry: &[u8]) -> Result<(), TileError> {
    let len = u16::try_from(entry.len()).map_err(|_| TileError::EntryTooLarge { len: entry.len() })?;
    debug_assert!(entry.len() <= MAX_ENTRY_LEN);
    bundle.reserve(2 + entry.len());
    bundle.extend_from_slice(&len.to_be_bytes());
    bundle.extend_from_slice(entry);
    Ok(())
}

/// Iterator over the entries of an encoded bundle. Yields
/// `Err(TileError::BundleTruncated)` once (then stops) if the bytes end inside
/// a length prefix or an entry.
#[derive(Debug, Clone)]
pub struct BundleIter<'a> {
    rest: &'a [u8],
}

impl<'a> BundleIter<'a> {
    /// Iterate over the entries of `bundle`.
    pub fn new(bundle: &'a [u8]) -> Self {
        BundleIter { rest: bundle }
    }

    /// Bytes not yet consumed (empty once the iterator has returned `None`
    /// after a well-formed bundle).
    pub fn remaining(&self) -> &'a [u8] {
        self.rest
    }
}

impl<'a> Iterator for BundleIter<'a> {
    type Item = Result<&'a [u8], TileError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        if self.rest.len() < 2 {
            self.rest = &[];
            return Some(Err(TileError::BundleTruncated));
        }
        let len = usize::from(u16::from_be_bytes([self.rest[0], self.rest[1]]));
        let body = &self.rest[2..];
        if body.len() < len {
            self.rest = &[];
            return Some(Err(TileError::BundleTruncated));
        }
        let (entry, rest) = body.split_at(len);
        self.rest = rest;
        Some(Ok(entry))
    }
}

/// Byte length of the first `count` entries of `bundle`, or `None` if it holds
/// fewer than `count` well-formed entries. Used to cut a partial bundle out of
/// a full one.
pub(crate) fn prefix_len(bundle: &[u8], count: usize) -> Option<usize> {
    let mut it = BundleIter::new(bundle);
    for _ in 0..count {
        it.next()?.ok()?;
    }
    Some(bundle.len() - it.remaining().len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use proptest::prelude::*;

    #[test]
    fn encodes_big_endian_length_prefix() {
        let mut b = Vec::new();
        bundle_push(&mut b, b"").unwrap();
        bundle_push(&mut b, b"ab").unwrap();
        bundle_push(&mut b, &[7u8; 300]).unwrap();
        assert_eq!(&b[..6], &[0, 0, 0, 2, b'a', b'b']);
        assert_eq!(&b[6..8], &[1, 44]);
        assert_eq!(b.len(), 2 + 4 + 302);
        let got: Vec<&[u8]> = BundleIter::new(&b).map(|r| r.unwrap()).collect();
        assert_eq!(got, vec![&b""[..], &b"ab"[..], &[7u8; 300][..]]);
        assert_eq!(prefix_len(&b, 0), Some(0));
        assert_eq!(prefix_len(&b, 2), Some(6));
        assert_eq!(prefix_len(&b, 3), Some(b.len()));
        assert_eq!(prefix_len(&b, 4), None);
    }

    #[test]
    fn max_entry_len_is_enforced() {
        let mut b = Vec::new();
        let big = vec![1u8; MAX_ENTRY_LEN];
        bundle_push(&mut b, &big).unwrap();
        assert_eq!(&b[..2], &[0xff, 0xff]);
        let too_big = vec![1u8; MAX_ENTRY_LEN + 1];
        let before = b.len();
        assert_eq!(
            bundle_push(&mut b, &too_big),
            Err(TileError::EntryTooLarge { len: MAX_ENTRY_LEN + 1 })
        );
        assert_eq!(b.len(), before);
    }

    #[test]
    fn truncation_is_reported_once() {
        let mut b = Vec::new();
        bundle_push(&mut b, b"hello").unwrap();
        for cut in 1..b.len() {
            let mut it = BundleIter::new(&b[..cut]);
            assert_eq!(it.next(), Some(Err(TileError::BundleTruncated)));
            assert_eq!(it.next(), None);
        }
        let mut it = BundleIter::new(&[]);
        assert_eq!(it.next(), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn round_trip(entries in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..50)) {
            let mut b = Vec::new();
            for e in &entries {
                bundle_push(&mut b, e).unwrap();
            }
            let got: Vec<Vec<u8>> = BundleIter::new(&b).map(|r| r.unwrap().to_vec()).collect();
            prop_assert_eq!(got, entries);
        }
    }
}
