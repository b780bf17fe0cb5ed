//! Names of tiles and entry bundles, exactly as C2SP tlog-tiles spells them:
//! `tile/<L>/<N>[.p/<W>]` and `tile/entries/<N>[.p/<W>]`, where `<N>` is split
//! into zero-padded 3-digit elements, all but the last prefixed with `x`.
//!
//! This module only names files; it never decides whether one exists in
//! storage. Parsing is strict: it accepts only the one canonical spelling that
//! [`TilePath::to_path`] produces, so two different strings never name the
//! same tile.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::{MAX_LEVELS, MAX_TREE_SIZE};

/// Which family of file a [`TilePath`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TileKind {
    /// A hash tile; level-`level` entries are roots of subtrees of height 8·level.
    Hash {
        /// Tile level, 0..=63 in the spec (0..=7 for trees this crate builds).
        level: u8,
    },
    /// An entry bundle (the entries whose leaf hashes form level-0 tile N).
    Entries,
}

/// One tile or entry bundle: which family, its index within its level, and
/// its width (1..=255 for a partial `.p/W` file, 256 for a full one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TilePath {
    /// Hash tile at some level, or entry bundle.
    pub kind: TileKind,
    /// Index `N` of the tile within its level.
    pub index: u64,
    /// Number of hashes/entries: 1..=255 for a partial file, 256 for a full one.
    pub width: u16,
}

/// Highest level the spec allows in a path.
const MAX_PATH_LEVEL: u8 = 63;

impl TilePath {
    /// A hash tile at `level`, index `index`, holding `width` hashes.
    pub const fn hash(level: u8, index: u64, width: u16) -> Self {
        TilePath {
            kind: TileKind::Hash { level },
            index,
            width,
        }
    }

    /// An entry bundle with index `index`, holding `width` entries.
    pub const fn entries(index: u64, width: u16) -> Self {
        TilePath {
            kind: TileKind::Entries,
            index,
            width,
        }
    }

    /// True for a full (256-wide, immutable) tile or bundle.
    pub fn is_full(&self) -> bool {
        self.width == 256
    }

    /// The same tile at full width: the file that stands in for a partial one
    /// once the partial has been deleted.
    pub fn to_full(&self) -> TilePath {
        TilePath {
            kind: self.kind,
            index: self.index,
            width: 256,
        }
    }

    /// Level of a hash tile; entry bundles sit beside level 0 and return 0.
    pub fn level(&self) -> u8 {
        match self.kind {
            TileKind::Hash { level } => level,
            TileKind::Entries => 0,
        }
    }

    /// Canonical path string, e.g. `tile/0/x001/234.p/5` or `tile/entries/005`.
    ///
    /// Panics if `width` is 0 or above 256, or the level is above 63: such a
    /// `TilePath` names no file and building one is a caller bug.
    pub fn to_path(&self) -> String {
        let mut s = String::with_capacity(40);
        fmt::write(&mut s, format_args!("{self}")).expect("writing to a String cannot fail");
        s
    }

    /// Parse a canonical path; `None` for anything [`TilePath::to_path`] would
    /// not produce (leading zeros, a leading `x000/` element, `.p/0`, `.p/256`,
    /// `.p/` with leading zeros, a level above 63, an index overflowing u64).
    pub fn parse(s: &str) -> Option<TilePath> {
        let rest = s.strip_prefix("tile/")?;
        let (kind, rest) = if let Some(r) = rest.strip_prefix("entries/") {
            (TileKind::Entries, r)
        } else {
            let slash = rest.find('/')?;
            let level = parse_small_decimal(&rest[..slash])?;
            if level > u32::from(MAX_PATH_LEVEL) {
                return None;
            }
            let level = u8::try_from(level).ok()?;
            (TileKind::Hash { level }, &rest[slash + 1..])
        };
        let (index_part, width) = match rest.find(".p/") {
            Some(i) => {
                let w = parse_small_decimal(&rest[i + 3..])?;
                if !(1..=255).contains(&w) {
                    return None;
                }
                (&rest[..i], u16::try_from(w).ok()?)
            }
            None => (rest, 256u16),
        };
        let index = parse_index(index_part)?;
        Some(TilePath { kind, index, width })
    }
}

impl fmt::Display for TilePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        assert!(self.width >= 1, "tile width 0 names no file");
        assert!(self.width <= 256, "tile width above 256");
        match self.kind {
            TileKind::Hash { level } => {
                assert!(level <= MAX_PATH_LEVEL, "tile level above 63");
                write!(f, "tile/{level}/")?;
            }
            TileKind::Entries => f.write_str("tile/entries/")?,
        }
        // Split the index into base-1000 groups, most significant first.
        let mut groups = [0u16; 7];
        let mut count = 0;
        let mut n = self.index;
        loop {
            groups[count] = (n % 1000) as u16;
            count += 1;
            n /= 1000;
            if n == 0 {
                break;
            }
        }
        for i in (1..count).rev() {
            write!(f, "x{:03}/", groups[i])?;
        }
        write!(f, "{:03}", groups[0])?;
        if self.width < 256 {
            write!(f, ".p/{}", self.width)?;
        }
        Ok(())
    }
}

/// A decimal with no leading zeros (except "0" itself), at most 3 digits.
fn parse_small_decimal(s: &str) -> Option<u32> {
    let b = s.as_bytes();
    if b.is_empty() || b.len() > 3 {
        return None;
    }
    if b.len() > 1 && b[0] == b'0' {
        return None;
    }
    let mut v = 0u32;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

/// Exactly three ASCII digits.
fn parse_three_digits(b: &[u8]) -> Option<u64> {
    if b.len() != 3 {
        return None;
    }
    let mut v = 0u64;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u64::from(c - b'0');
    }
    Some(v)
}

/// `xDDD/`* `DDD`, canonical: no leading `x000` element, fits in u64.
fn parse_index(s: &str) -> Option<u64> {
    let mut elements = s.split('/').peekable();
    let mut value: u64 = 0;
    let mut first = true;
    while let Some(el) = elements.next() {
        let b = el.as_bytes();
        let last = elements.peek().is_none();
        let digits = if last {
            parse_three_digits(b)?
        } else {
            if b.first() != Some(&b'x') {
                return None;
            }
            let d = parse_three_digits(&b[1..])?;
            if first && d == 0 {
                return None; // `x000/...` is not canonical
            }
            d
        };
        value = value.checked_mul(1000)?.checked_add(digits)?;
        first = false;
    }
    Some(value)
}

/// Number of hash-tile levels that hold at least one entry in a tree of `size`.
pub(crate) fn level_count(size: u64) -> usize {
    let mut n = 0;
    while n < MAX_LEVELS && (size >> (8 * n)) > 0 {
        n += 1;
    }
    n
}

/// Number of entries at `level` (hashes of full subtrees of height 8·level).
#[inline]
pub(crate) fn level_entries(size: u64, level: usize) -> u64 {
    assert!(level < MAX_LEVELS);
    size >> (8 * level)
}

/// The right-edge partial file of `kind` at `level` for a tree of `size`, or
/// `None` when that level's entry count is a multiple of 256 (no partial file).
pub(crate) fn partial_at(size: u64, level: usize, entries: bool) -> Option<TilePath> {
    let n = level_entries(size, level);
    let w = (n & 0xff) as u16;
    if w == 0 {
        return None;
    }
    let index = n >> 8;
    Some(if entries {
        TilePath::entries(index, w)
    } else {
        TilePath::hash(level as u8, index, w)
    })
}

/// The file of a tree of `size` that holds entry `e` of `level` (full if that
/// tile is complete within `size`, else the right-edge partial).
pub(crate) fn tile_holding(size: u64, level: usize, e: u64, entries: bool) -> TilePath {
    let n = level_entries(size, level);
    assert!(e < n, "entry is beyond the tree");
    let index = e >> 8;
    let width = if (index + 1) << 8 <= n { 256 } else { (n & 0xff) as u16 };
    if entries {
        TilePath::entries(index, width)
    } else {
        TilePath::hash(level as u8, index, width)
    }
}

/// Every hash tile and entry bundle that exists for a tree of `size`: for each
/// level from 0 up, its full tiles in index order then its partial tile, then
/// the entry bundles the same way. For tools and tests: the list is about
/// `size / 255` long, so do not call it for huge trees.
///
/// Panics if `size` is above [`MAX_TREE_SIZE`].
pub fn tiles_for_size(size: u64) -> Vec<TilePath> {
    assert!(size <= MAX_TREE_SIZE, "tree size above 2^63");
    let mut out = Vec::new();
    for level in 0..level_count(size) {
        let n = level_entries(size, level);
        for i in 0..(n >> 8) {
            out.push(TilePath::hash(level as u8, i, 256));
        }
        if let Some(p) = partial_at(size, level, false) {
            out.push(p);
        }
    }
    for i in 0..(size >> 8) {
        out.push(TilePath::entries(i, 256));
    }
    if let Some(p) = partial_at(size, 0, true) {
        out.push(p);
    }
    out
}

/// Only the right-edge partial files of a tree of `size` (at most one hash
/// tile per level plus the partial bundle, so at most 9 paths), in the order
/// [`tiles_for_size`] lists them: what a checkpoint at `size` needs beyond
/// the immutable full tiles. Cheap for any size.
///
/// Panics if `size` is above [`MAX_TREE_SIZE`].
pub fn partial_tiles_for_size(size: u64) -> Vec<TilePath> {
    assert!(size <= MAX_TREE_SIZE, "tree size above 2^63");
    let mut out = Vec::with_capacity(MAX_LEVELS + 1);
    for level in 0..level_count(size) {
        out.extend(partial_at(size, level, false));
    }
    out.extend(partial_at(size, 0, true));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;
    use proptest::prelude::*;

    #[test]
    fn spec_index_examples() {
        assert_eq!(TilePath::hash(0, 1_234_067, 256).to_path(), "tile/0/x001/x234/067");
        assert_eq!(TilePath::hash(0, 5, 256).to_path(), "tile/0/005");
        assert_eq!(TilePath::hash(0, 0, 256).to_path(), "tile/0/000");
        assert_eq!(TilePath::hash(1, 1000, 256).to_path(), "tile/1/x001/000");
        assert_eq!(TilePath::hash(0, 1234, 5).to_path(), "tile/0/x001/234.p/5");
        assert_eq!(TilePath::hash(2, 0, 1).to_path(), "tile/2/000.p/1");
        assert_eq!(TilePath::entries(273, 112).to_path(), "tile/entries/273.p/112");
        assert_eq!(TilePath::entries(999, 256).to_path(), "tile/entries/999");
        assert_eq!(TilePath::hash(63, 7, 255).to_path(), "tile/63/007.p/255");
        assert_eq!(
            TilePath::hash(0, u64::MAX, 256).to_path(),
            "tile/0/x018/x446/x744/x073/x709/x551/615"
        );
    }

    #[test]
    fn parse_accepts_canonical() {
        for (s, p) in [
            ("tile/0/x001/x234/067", TilePath::hash(0, 1_234_067, 256)),
            ("tile/0/005", TilePath::hash(0, 5, 256)),
            ("tile/1/001.p/17", TilePath::hash(1, 1, 17)),
            ("tile/entries/273.p/112", TilePath::entries(273, 112)),
            ("tile/entries/x001/000", TilePath::entries(1000, 256)),
            ("tile/63/000.p/255", TilePath::hash(63, 0, 255)),
            (
                "tile/0/x018/x446/x744/x073/x709/x551/615",
                TilePath::hash(0, u64::MAX, 256),
            ),
        ] {
            assert_eq!(TilePath::parse(s), Some(p), "{s}");
            assert_eq!(p.to_string(), s);
        }
    }

    #[test]
    fn parse_rejects_non_canonical() {
        for s in [
            "",
            "tile/",
            "tile/0",
            "tile/0/",
            "tile/0/5",
            "tile/0/05",
            "tile/0/0005",
            "tile/00/005",
            "tile/01/005",
            "tile/64/005",
            "tile/256/005",
            "tile/-1/005",
            "tile/0/x000/005",
            "tile/0/001/005",
            "tile/0/x001x/005",
            "tile/0/x01/005",
            "tile/0/x0001/005",
            "tile/0/x001",
            "tile/0/x001/",
            "tile/0/005.p/0",
            "tile/0/005.p/256",
            "tile/0/005.p/05",
            "tile/0/005.p/",
            "tile/0/005.p/1/",
            "tile/0/005.p/1.p/1",
            "tile/0/005.p",
            "tile/0/005.x/5",
            "tile/0/005/",
            "/tile/0/005",
            "tile//005",
            "tile/entries/",
            "tile/entries/5",
            "tile/entry/005",
            "tile/Entries/005",
            "tile/data/005",
            "tile/0/x018/x446/x744/x073/x709/x551/616", // u64 overflow
            "tile/0/x001/x018/x446/x744/x073/x709/x551/615",
            "tile/0/+05",
            "tile/0/ 05",
            "tile/0/٠٠٥",
        ] {
            assert_eq!(TilePath::parse(s), None, "{s:?} must be rejected");
        }
        // `x000/` is fine when it is not the leading element.
        assert_eq!(
            TilePath::parse("tile/0/x001/x000/005"),
            Some(TilePath::hash(0, 1_000_005, 256))
        );
    }

    #[test]
    fn spec_example_70000() {
        let mut want = Vec::new();
        for i in 0..273 {
            want.push(TilePath::hash(0, i, 256));
        }
        want.push(TilePath::hash(0, 273, 112));
        want.push(TilePath::hash(1, 0, 256));
        want.push(TilePath::hash(1, 1, 17));
        want.push(TilePath::hash(2, 0, 1));
        for i in 0..273 {
            want.push(TilePath::entries(i, 256));
        }
        want.push(TilePath::entries(273, 112));
        assert_eq!(tiles_for_size(70_000), want);
        let strs: Vec<String> = tiles_for_size(70_000).iter().map(|p| p.to_path()).collect();
        assert!(strs.contains(&"tile/0/273.p/112".to_string()));
        assert!(strs.contains(&"tile/1/000".to_string()));
        assert!(strs.contains(&"tile/1/001.p/17".to_string()));
        assert!(strs.contains(&"tile/2/000.p/1".to_string()));
        assert!(strs.contains(&"tile/entries/273.p/112".to_string()));
        assert_eq!(strs.len(), 273 + 4 + 273 + 1);
    }

    #[test]
    fn spec_example_256() {
        assert_eq!(
            tiles_for_size(256),
            vec![
                TilePath::hash(0, 0, 256),
                TilePath::hash(1, 0, 1),
                TilePath::entries(0, 256)
            ]
        );
        assert_eq!(tiles_for_size(0), vec![]);
        assert_eq!(
            tiles_for_size(1),
            vec![TilePath::hash(0, 0, 1), TilePath::entries(0, 1)]
        );
    }

    #[test]
    fn partial_tiles_are_the_partials_of_tiles_for_size() {
        for size in (0..3_000u64).chain([65_535, 65_536, 70_000, 16_777_217]) {
            let want: Vec<TilePath> = tiles_for_size(size).into_iter().filter(|p| !p.is_full()).collect();
            assert_eq!(partial_tiles_for_size(size), want, "size {size}");
        }
        assert_eq!(partial_tiles_for_size(MAX_TREE_SIZE), vec![TilePath::hash(7, 0, 128)]);
        assert_eq!(partial_tiles_for_size(MAX_TREE_SIZE - 1).len(), 9);
    }

    #[test]
    fn tiles_for_max_size_levels() {
        // Only count, do not build: the top of a 2^63 tree is tile/7/000.p/128.
        assert_eq!(level_count(MAX_TREE_SIZE), 8);
        assert_eq!(partial_at(MAX_TREE_SIZE, 7, false), Some(TilePath::hash(7, 0, 128)));
        assert_eq!(partial_at(MAX_TREE_SIZE, 6, false), None);
        assert_eq!(level_count(0), 0);
        assert_eq!(level_count(255), 1);
        assert_eq!(level_count(256), 2);
        assert_eq!(level_count(65_536), 3);
    }

    #[test]
    fn tile_holding_picks_full_or_partial() {
        assert_eq!(tile_holding(300, 0, 0, false), TilePath::hash(0, 0, 256));
        assert_eq!(tile_holding(300, 0, 299, false), TilePath::hash(0, 1, 44));
        assert_eq!(tile_holding(300, 0, 256, true), TilePath::entries(1, 44));
        assert_eq!(tile_holding(512, 0, 511, false), TilePath::hash(0, 1, 256));
        assert_eq!(tile_holding(70_000, 1, 256, false), TilePath::hash(1, 1, 17));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn round_trip(level in 0u8..=63, index in any::<u64>(), width in 1u16..=256, entries in any::<bool>()) {
            let p = if entries { TilePath::entries(index, width) } else { TilePath::hash(level, index, width) };
            let s = p.to_path();
            prop_assert_eq!(TilePath::parse(&s), Some(p));
        }

        #[test]
        fn parse_never_panics_and_is_canonical(s in "tile/(entries|[0-9]{1,3})/(x[0-9]{3}/){0,3}[0-9]{1,4}(\\.p/[0-9]{1,4})?") {
            if let Some(p) = TilePath::parse(&s) {
                prop_assert_eq!(p.to_path(), s);
            }
        }
    }
}
