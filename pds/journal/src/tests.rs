use super::*;
use alloc::format;
use alloc::vec;
use alloc::vec::Vec;
use proptest::prelude::*;

fn entries(first: u64, n: u64) -> Vec<Vec<u8>> {
    (first..first + n).map(|i| format!("entry {i}").into_bytes()).collect()
}

fn record(first: u64, n: u64) -> Vec<u8> {
    let e = entries(first, n);
    let mut out = Vec::new();
    let note = format!("note {}", first + n);
    encode_record(first, e.iter().map(Vec::as_slice), note.as_bytes(), &mut out);
    assert_eq!(out.len(), record_len(e.iter().map(Vec::as_slice), note.len()));
    out
}

#[test]
fn records_round_trip_back_to_back() {
    let mut bytes = record(0, 3);
    bytes.extend(record(3, 1));
    bytes.extend(vec![0u8; 100]);
    let mut reader = RecordReader::new(&bytes);
    let a = reader.next().unwrap();
    assert_eq!(
        (a.first_index, a.len(), a.end(), a.note),
        (0, 3, 3, b"note 3".as_slice())
    );
    assert_eq!(a.entries().collect::<Vec<_>>(), entries(0, 3));
    let b = reader.next().unwrap();
    assert_eq!((b.first_index, b.len()), (3, 1));
    assert!(reader.next().is_none(), "zeros end the journal");
    assert_eq!(reader.offset(), bytes.len() - 100);
    assert!(reader.malformed().is_none());
}

#[test]
fn a_torn_tail_is_dropped_at_every_cut() {
    let mut bytes = record(0, 2);
    let first = bytes.len();
    bytes.extend(record(2, 5));
    for cut in first..bytes.len() {
        let got: Vec<_> = RecordReader::new(&bytes[..cut]).map(|r| r.end()).collect();
        assert_eq!(got, [2], "cut at {cut}");
    }
}

#[test]
fn any_flipped_byte_drops_the_record() {
    let bytes = record(7, 4);
    for i in 0..bytes.len() {
        let mut damaged = bytes.clone();
        damaged[i] ^= 0x5a;
        assert_eq!(RecordReader::new(&damaged).count(), 0, "byte {i}");
    }
}

#[test]
fn segment_headers_round_trip_and_refuse_damage() {
    let h = SegmentHeader { seq: 42 }.encode();
    assert_eq!(SegmentHeader::decode(&h), Ok(SegmentHeader { seq: 42 }));
    for i in 0..h.len() {
        let mut d = h;
        d[i] ^= 1;
        assert_eq!(SegmentHeader::decode(&d), Err(JournalError::BadSegmentHeader));
    }
    assert_eq!(SegmentHeader::decode(&[0u8; 4096]), Err(JournalError::BadSegmentHeader));
}

#[test]
fn recovery_skips_what_is_published_and_refuses_gaps() {
    let bytes: Vec<u8> = [record(0, 10), record(10, 5), record(15, 5)].concat();
    let records: Vec<_> = RecordReader::new(&bytes).collect();
    let mut r = Recovery::new(12);
    assert_eq!(r.accept(&records[0]), Ok(Verdict::Old));
    assert_eq!(r.accept(&records[1]), Ok(Verdict::Apply { skip: 2 }));
    assert_eq!(r.accept(&records[2]), Ok(Verdict::Apply { skip: 0 }));
    assert_eq!(r.size(), 20);
    // A stale record from a recycled segment is old, never re-applied.
    assert_eq!(r.accept(&records[0]), Ok(Verdict::Old));
    let mut gap = Recovery::new(5);
    assert_eq!(
        gap.accept(&records[1]),
        Err(JournalError::Gap { expected: 5, found: 10 })
    );
}

#[test]
fn a_checksummed_but_inconsistent_record_is_reported() {
    // Forge a record whose entry count claims more than it holds, with a valid crc.
    let mut out = Vec::new();
    encode_record(0, [b"a".as_slice()].into_iter(), b"n", &mut out);
    out[12 + 8..12 + 12].copy_from_slice(&5u32.to_le_bytes());
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&out[..8]);
    hasher.update(&out[12..]);
    let crc = hasher.finalize();
    out[8..12].copy_from_slice(&crc.to_le_bytes());
    let mut reader = RecordReader::new(&out);
    assert!(reader.next().is_none());
    assert!(matches!(reader.malformed(), Some(JournalError::Malformed(_))));
}

proptest! {
    /// Whatever bytes follow a valid prefix of records, the reader returns exactly
    /// that prefix or more valid records, never a record that was not written.
    #[test]
    fn garbage_after_records_never_yields_a_false_record(
        sizes in proptest::collection::vec(1u64..20, 1..6),
        garbage in proptest::collection::vec(any::<u8>(), 0..300),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = Vec::new();
        let mut first = 0;
        let mut ends = Vec::new();
        for n in &sizes {
            bytes.extend(record(first, *n));
            first += n;
            ends.push(first);
        }
        let keep = cut.index(bytes.len() + 1);
        let mut damaged = bytes[..keep].to_vec();
        damaged.extend(&garbage);
        let got: Vec<u64> = RecordReader::new(&damaged).map(|r| r.end()).collect();
        prop_assert!(got.len() <= ends.len());
        prop_assert_eq!(&got[..], &ends[..got.len()]);
    }

    /// Any input decodes without panicking.
    #[test]
    fn any_bytes_decode_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = SegmentHeader::decode(&bytes);
        let mut r = RecordReader::new(&bytes);
        for rec in &mut r {
            let _ = rec.entries().count();
        }
    }
}
