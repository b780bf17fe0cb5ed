use super::*;
use proptest::prelude::*;

const WINDOW: usize = 4 * MAX_REQUEST_BYTES;

#[test]
fn requests_inside_the_device_and_window_pass() {
    let r = BlkRequest::new(Op::Write, 7, 10, 2, 4096);
    assert_eq!(
        validate(&r, 12, WINDOW),
        Ok(Checked::Write {
            device_offset: 10 * 4096,
            window_offset: 4096,
            len: 8192
        })
    );
    assert_eq!(
        validate(&BlkRequest::new(Op::Flush, 1, 0, 0, 0), 12, WINDOW),
        Ok(Checked::Flush)
    );
    assert_eq!(
        validate(&BlkRequest::new(Op::Info, 1, 0, 0, 0), 12, WINDOW),
        Ok(Checked::Info)
    );
}

/// Found by fuzzing (fuzz target `blkring`): with a device of more than 2^52 blocks
/// (a size the peer reports), a block number past 2^64 bytes overflowed
/// `block * BLOCK_SIZE` (a panic in the driver, a wrapped offset in release builds).
#[test]
fn blocks_past_two_to_the_64_bytes_are_out_of_range() {
    let huge = u64::MAX;
    let r = BlkRequest::new(Op::Read, 1, 1 << 60, 1, 0);
    assert_eq!(validate(&r, huge, WINDOW), Err(Status::OutOfRange));
    // The last block whose end byte still fits in u64 is served.
    let last = u64::MAX / BLOCK_SIZE as u64 - 1;
    let r = BlkRequest::new(Op::Write, 1, last, 1, 0);
    assert_eq!(
        validate(&r, huge, WINDOW),
        Ok(Checked::Write {
            device_offset: last * BLOCK_SIZE as u64,
            window_offset: 0,
            len: BLOCK_SIZE
        })
    );
    assert_eq!(
        validate(&BlkRequest::new(Op::Write, 1, last + 1, 1, 0), huge, WINDOW),
        Err(Status::OutOfRange)
    );
}

#[test]
fn malformed_descriptors_are_refused_with_a_status() {
    let ok = BlkRequest::new(Op::Read, 1, 0, 1, 0);
    let cases = [
        (BlkRequest { op: 9, ..ok }, Status::Invalid),
        (BlkRequest { count: 0, ..ok }, Status::Invalid),
        (BlkRequest { count: u32::MAX, ..ok }, Status::Invalid),
        (BlkRequest { offset: 100, ..ok }, Status::Invalid),
        (
            BlkRequest {
                offset: WINDOW as u64,
                ..ok
            },
            Status::Invalid,
        ),
        (
            BlkRequest {
                offset: u64::MAX - 4095,
                ..ok
            },
            Status::Invalid,
        ),
        (BlkRequest { block: 12, ..ok }, Status::OutOfRange),
        (BlkRequest { block: u64::MAX, ..ok }, Status::OutOfRange),
    ];
    for (req, want) in cases {
        assert_eq!(validate(&req, 12, WINDOW), Err(want), "{req:?}");
    }
}

#[test]
fn completion_statuses_map_to_device_errors() {
    let r = BlkRequest::new(Op::Read, 1, 0, 1, 0);
    assert_eq!(completion_result(&r.completed(Status::Ok)), Ok(()));
    assert_eq!(
        completion_result(&r.completed(Status::OutOfRange)),
        Err(DeviceError::OutOfRange)
    );
    assert_eq!(completion_result(&r.completed(Status::Io)), Err(DeviceError::Io));
    assert_eq!(
        completion_result(&r),
        Err(DeviceError::Io),
        "an unserved request is a failure"
    );
    assert_eq!(Status::from_i32(-77), Status::Io);
}

proptest! {
    /// Any descriptor at all: validation never panics, and what passes lies
    /// inside the device and the window.
    #[test]
    fn validation_accepts_only_in_bounds_requests(op in 0u32..6, count: u32, block: u64, offset: u64,
                                                   blocks in 0u64..1 << 40) {
        let req = BlkRequest { op, status: 1, id: 0, count, block, offset };
        match validate(&req, blocks, WINDOW) {
            Ok(Checked::Read { device_offset, window_offset, len })
            | Ok(Checked::Write { device_offset, window_offset, len }) => {
                prop_assert!(len > 0 && len <= MAX_REQUEST_BYTES && len % BLOCK_SIZE == 0);
                prop_assert!(window_offset + len <= WINDOW);
                prop_assert!(device_offset + len as u64 <= blocks * BLOCK_SIZE as u64);
            }
            Ok(_) => prop_assert!(op == 2 || op == 3),
            Err(s) => prop_assert!(s != Status::Ok && s != Status::Pending),
        }
    }

    /// Chunks tile the transfer exactly, in order, each within the window.
    #[test]
    fn chunks_cover_the_transfer(block in 0u64..1 << 30, blocks in 1usize..2000, window in 1usize..3 << 20) {
        let len = blocks * BLOCK_SIZE;
        let mut next = 0;
        for (b, range) in chunks(block, len, window) {
            prop_assert_eq!(range.start, next);
            prop_assert_eq!(b, block + (range.start / BLOCK_SIZE) as u64);
            prop_assert!(range.len() <= window.clamp(BLOCK_SIZE, MAX_REQUEST_BYTES));
            prop_assert!(range.len() % BLOCK_SIZE == 0 && !range.is_empty());
            next = range.end;
        }
        prop_assert_eq!(next, len);
    }
}
