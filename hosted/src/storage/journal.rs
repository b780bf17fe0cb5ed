//! The POSIX side of the journal core (`ledgerfs-journal`): preallocated, zero-filled
//! segment files under `DIR/journal/`, one record per commit written in place and made
//! durable with one `fdatasync` (the file's size and blocks never change after
//! preallocation, so the data sync touches no metadata). A segment is recycled once the
//! published checkpoint covers every record in it.
//!
//! The file is opened for each append and closed after it, so no descriptor open for
//! writing keeps the file system from being remounted read-only under the daemon.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ledgerfs_journal::{encode_record, record_len, RecordReader, Recovery, SegmentHeader, Verdict, SEGMENT_HEADER_LEN};

use crate::error::{Error, Result};
use crate::storage::fs::Fs;
use crate::storage::fsutil;

/// Directory of the journal inside a data directory.
pub const JOURNAL_DIR: &str = "journal";
/// Smallest segment the config may ask for.
pub const MIN_SEGMENT_BYTES: u64 = 64 * 1024;

/// A journal record recovered at start-up: entries the published log does not hold yet.
#[derive(Debug, Clone)]
pub struct Recovered {
    /// Index of `entries[0]`.
    pub first_index: u64,
    /// The entries, in log order.
    pub entries: Vec<Vec<u8>>,
    /// The signed checkpoint covering `first_index + entries.len()`.
    pub note: Vec<u8>,
}

#[derive(Debug)]
struct Segment {
    path: PathBuf,
    seq: u64,
    /// End index of the last record written to it (0 when none).
    end: u64,
}

/// The open journal: the segment being written and the ones still needed.
#[derive(Debug)]
pub struct Journal {
    fs: Arc<dyn Fs>,
    dir: PathBuf,
    segment_bytes: u64,
    /// Segments holding records the published checkpoint may not cover, oldest first;
    /// the last one is written to.
    live: Vec<Segment>,
    /// Preallocated segments free for reuse.
    spare: Vec<PathBuf>,
    /// Where the next record goes in the current segment.
    offset: u64,
    buf: Vec<u8>,
    /// Names the next new segment file.
    next_file: u64,
}

impl Journal {
    /// Opens (creating if needed) the journal of the data directory `data`, and returns
    /// every record with entries beyond `published_size`, in order. A torn or
    /// unchecksummed tail is dropped (it was never acknowledged); a gap is corruption.
    pub fn open(
        fs: Arc<dyn Fs>,
        data: &Path,
        segment_bytes: u64,
        published_size: u64,
    ) -> Result<(Journal, Vec<Recovered>)> {
        let dir = data.join(JOURNAL_DIR);
        fsutil::create_dir_all(&*fs, &dir)?;
        // The directory's name, and the names of the segments in it (one preallocated
        // by an attempt whose directory sync failed, say), must be durable before any
        // record in them is acknowledged: a new store's first commits, or any not yet
        // published, are nowhere else.
        fsutil::sync_dir(&*fs, data)?;
        fsutil::sync_dir(&*fs, &dir)?;
        let mut found = Vec::new();
        let mut spare = Vec::new();
        let mut next_file = 0;
        let mut paths = Vec::new();
        for entry in fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
            paths.push(entry.map_err(|e| Error::io(&dir, e))?.path());
        }
        // In name order, so which spare is reused next does not depend on the directory.
        paths.sort();
        for path in paths {
            let Some(number) = segment_number(&path) else {
                continue;
            };
            next_file = next_file.max(number + 1);
            let bytes = fs::read(&path).map_err(|e| Error::io(&path, e))?;
            match SegmentHeader::decode(&bytes) {
                Ok(header) => found.push((header.seq, path, bytes)),
                // Preallocated, never used (or its first use was never made durable).
                Err(_) => spare.push(path),
            }
        }
        found.sort_by_key(|(seq, _, _)| *seq);
        let mut recovery = Recovery::new(published_size);
        let mut recovered = Vec::new();
        let mut live = Vec::new();
        let mut offset = SEGMENT_HEADER_LEN as u64;
        for (seq, path, bytes) in found {
            let body = bytes.get(SEGMENT_HEADER_LEN..).unwrap_or(&[]);
            let mut reader = RecordReader::new(body);
            let mut end = 0;
            for record in &mut reader {
                end = end.max(record.end());
                let verdict = recovery.accept(&record).map_err(|e| corrupt(&path, e.to_string()))?;
                if let Verdict::Apply { skip } = verdict {
                    recovered.push(Recovered {
                        first_index: record.first_index + skip,
                        entries: record.entries().skip(skip as usize).map(<[u8]>::to_vec).collect(),
                        note: record.note.to_vec(),
                    });
                }
            }
            if let Some(e) = reader.malformed() {
                return Err(corrupt(&path, e.to_string()));
            }
            offset = (SEGMENT_HEADER_LEN + reader.offset()) as u64;
            live.push(Segment { path, seq, end });
        }
        let mut journal = Journal {
            fs,
            dir,
            segment_bytes: segment_bytes.max(MIN_SEGMENT_BYTES),
            live,
            spare,
            offset,
            buf: Vec::new(),
            next_file,
        };
        if journal.live.is_empty() {
            journal.start_segment(0)?;
        }
        Ok((journal, recovered))
    }

    /// Most bytes one record may take (a commit larger than this must be split).
    pub fn max_record_bytes(&self) -> usize {
        (self.segment_bytes - SEGMENT_HEADER_LEN as u64) as usize
    }

    /// Whether a record of these entries and note fits a segment at all.
    pub fn fits<'a>(&self, entries: impl Iterator<Item = &'a [u8]>, note_len: usize) -> bool {
        record_len(entries, note_len) <= self.max_record_bytes()
    }

    /// Makes sure a record of these entries (and a note of at most `note_len` bytes) fits
    /// the current segment, moving to a spare or new one if not: the step that may need
    /// disk space, taken before the commit is signed.
    pub fn make_room<'a>(&mut self, entries: impl Iterator<Item = &'a [u8]>, note_len: usize) -> Result<()> {
        let len = record_len(entries, note_len) as u64;
        if len > self.max_record_bytes() as u64 {
            return Err(Error::StorageFull(format!(
                "a commit of {len} bytes does not fit a journal segment of {} bytes (raise journal_segment_kib)",
                self.segment_bytes
            )));
        }
        if self.offset + len > self.segment_bytes {
            let seq = self.live.last().map_or(0, |s| s.seq + 1);
            self.start_segment(seq)?;
        }
        Ok(())
    }

    /// Appends one record and makes it durable (one `fdatasync`). On failure nothing
    /// advances: a retry writes the same record at the same place.
    pub fn append<'a>(
        &mut self,
        first_index: u64,
        entries: impl Iterator<Item = &'a [u8]> + Clone,
        note: &str,
    ) -> Result<()> {
        self.make_room(entries.clone(), note.len())?;
        let len = record_len(entries.clone(), note.len()) as u64;
        let count = entries.clone().count() as u64;
        self.buf.clear();
        encode_record(first_index, entries, note.as_bytes(), &mut self.buf);
        let segment = self.live.last_mut().expect("a current segment");
        self.fs
            .write_at_synced(&segment.path, self.offset, &self.buf)
            .map_err(|e| Error::io(&segment.path, e))?;
        self.offset += len;
        segment.end = first_index + count;
        Ok(())
    }

    /// Recycles every segment, but the current one, whose records all lie below
    /// `published_size` (the checkpoint file covers them and their tiles are durable).
    pub fn release(&mut self, published_size: u64) {
        while self.live.len() > 1 && self.live[0].end <= published_size {
            let segment = self.live.remove(0);
            self.spare.push(segment.path);
        }
    }

    /// Number of segment files (live and spare), for `/metrics` and tests.
    pub fn segments(&self) -> (usize, usize) {
        (self.live.len(), self.spare.len())
    }

    /// Makes a spare (or a new, zero-filled) file the current segment numbered `seq`.
    fn start_segment(&mut self, seq: u64) -> Result<()> {
        let path = match self.spare.pop() {
            Some(path) => path,
            None => self.preallocate()?,
        };
        let mut block = vec![0u8; SEGMENT_HEADER_LEN];
        block[..24].copy_from_slice(&SegmentHeader { seq }.encode());
        // Durable before any record: a recovered header never names stale records as new
        // (they are recognised by index anyway), and the segment's order is known.
        if let Err(e) = self.fs.write_at_synced(&path, 0, &block) {
            self.spare.push(path.clone());
            return Err(Error::io(&path, e));
        }
        self.live.push(Segment { path, seq, end: 0 });
        self.offset = SEGMENT_HEADER_LEN as u64;
        Ok(())
    }

    /// A new segment file of `segment_bytes` zeros, durable with its name.
    fn preallocate(&mut self) -> Result<PathBuf> {
        let path = self.dir.join(format!("{:08}.seg", self.next_file));
        self.next_file += 1;
        if let Err(e) = self.fs.create_zeroed(&path, self.segment_bytes) {
            let _ = self.fs.remove_file(&path);
            return Err(Error::io(&path, e));
        }
        fsutil::sync_dir(&*self.fs, &self.dir)?;
        Ok(path)
    }
}

fn segment_number(path: &Path) -> Option<u64> {
    path.file_name()?.to_str()?.strip_suffix(".seg")?.parse().ok()
}

fn corrupt(path: &Path, reason: String) -> Error {
    Error::Corrupt {
        path: format!(
            "{JOURNAL_DIR}/{}",
            path.file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
        ),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::OpenOptions;
    use std::os::unix::fs::FileExt;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ledgerfs-journal-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn entries(first: u64, n: u64) -> Vec<Vec<u8>> {
        (first..first + n)
            .map(|i| format!("entry {i:05}").into_bytes())
            .collect()
    }

    #[test]
    fn records_survive_reopen_and_segments_roll_over_and_recycle() {
        let dir = temp("roll");
        let (mut j, rec) = Journal::open(crate::storage::fs::posix(), &dir, MIN_SEGMENT_BYTES, 0).unwrap();
        assert!(rec.is_empty());
        let mut next = 0;
        for _ in 0..100 {
            let e = entries(next, 50);
            j.append(next, e.iter().map(Vec::as_slice), &format!("note {}", next + 50))
                .unwrap();
            next += 50;
        }
        assert!(j.segments().0 > 1, "rolled over: {:?}", j.segments());
        drop(j);
        let (mut j, rec) = Journal::open(crate::storage::fs::posix(), &dir, MIN_SEGMENT_BYTES, 1_000).unwrap();
        assert_eq!(rec.first().map(|r| r.first_index), Some(1_000));
        assert_eq!(rec.iter().map(|r| r.entries.len() as u64).sum::<u64>(), next - 1_000);
        assert_eq!(rec.last().unwrap().note, format!("note {next}").into_bytes());
        assert_eq!(rec[0].entries[0], b"entry 01000");
        // Publishing everything frees all but the current segment, which are reused.
        j.release(next);
        let (live, spare) = j.segments();
        assert_eq!(live, 1);
        assert!(spare > 0);
        let files = fs::read_dir(dir.join(JOURNAL_DIR)).unwrap().count();
        for _ in 0..100 {
            let e = entries(next, 50);
            j.append(next, e.iter().map(Vec::as_slice), "n").unwrap();
            next += 50;
            j.release(next);
        }
        assert_eq!(
            fs::read_dir(dir.join(JOURNAL_DIR)).unwrap().count(),
            files,
            "spares reused"
        );
        drop(j);
        let (_, rec) = Journal::open(crate::storage::fs::posix(), &dir, MIN_SEGMENT_BYTES, next - 50).unwrap();
        assert_eq!(rec.len(), 1, "only the last record is beyond the published size");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_torn_tail_is_dropped_and_writing_continues_there() {
        let dir = temp("torn");
        let (mut j, _) = Journal::open(crate::storage::fs::posix(), &dir, MIN_SEGMENT_BYTES, 0).unwrap();
        let e = entries(0, 10);
        j.append(0, e.iter().map(Vec::as_slice), "n10").unwrap();
        let e2 = entries(10, 10);
        j.append(10, e2.iter().map(Vec::as_slice), "n20").unwrap();
        let at = j.offset;
        drop(j);
        // Tear the second record: overwrite its last bytes with garbage.
        let seg = dir.join(JOURNAL_DIR).join("00000000.seg");
        let f = OpenOptions::new().write(true).open(&seg).unwrap();
        f.write_all_at(&[0xff; 7], at - 7).unwrap();
        let (mut j, rec) = Journal::open(crate::storage::fs::posix(), &dir, MIN_SEGMENT_BYTES, 0).unwrap();
        assert_eq!(rec.len(), 1);
        assert_eq!(rec[0].note, b"n10");
        j.append(10, e2.iter().map(Vec::as_slice), "n20 again").unwrap();
        drop(j);
        let (_, rec) = Journal::open(crate::storage::fs::posix(), &dir, MIN_SEGMENT_BYTES, 0).unwrap();
        assert_eq!(
            rec.iter().map(|r| r.note.clone()).collect::<Vec<_>>(),
            [b"n10".to_vec(), b"n20 again".to_vec()]
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_record_larger_than_a_segment_is_refused_as_storage_full() {
        let dir = temp("large");
        let (mut j, _) = Journal::open(crate::storage::fs::posix(), &dir, MIN_SEGMENT_BYTES, 0).unwrap();
        let big = [vec![7u8; 60_000], vec![8u8; 60_000]];
        assert!(!j.fits(big.iter().map(Vec::as_slice), 10));
        let err = j.append(0, big.iter().map(Vec::as_slice), "n").unwrap_err();
        assert_eq!(err.code(), "storage_full");
        fs::remove_dir_all(&dir).unwrap();
    }
}
