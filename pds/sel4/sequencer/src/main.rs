//! The sequencer protection domain: receives command lines from two clients, the serial
//! PD (`serial_to_seq`) and the network PD (`net_to_seq`, each HTTP request as the console
//! command it means), runs them through the ledgerfs-sequencer core and sends one reply
//! per command back to the client that sent it (`seq_to_serial`, `seq_to_net`), in the
//! order they came. It takes the two queues in turn, so neither client starves the
//! other. It notifies a client only when it asked (sDDF discipline); with a full reply
//! queue it stops taking commands until that client hands buffers back (backpressure,
//! nothing dropped). Replies to the network PD carry a `ledgerfs_http::route::reply_tag`:
//! JSON, or the bytes of a `/log/` file tiles read.
//!
//! Durability: the entries of each command go to the tiles PD (`seq_to_tiles`, a
//! `CommitRequest`); the reply is sent only when tiles reports them durable under a signed
//! checkpoint (`tiles_to_seq`, a `DurabilityNotice`). The core applies every notice
//! (`Sequencer::apply_notice`, the rule the hosted daemon follows too): a `Durable` one
//! marks entries durable, a `Failed` one rolls back to the size tiles kept and starts a
//! new epoch, which every `CommitRequest` carries (tiles' `CommitGate` refuses older
//! ones). One command is in flight at a time: serial's next line waits in its queue
//! meanwhile.
//!
//! Time: each command asks the timer PD for wall-clock "now" (a protected call); the
//! sequencer core keeps entry times strictly increasing from it.
//!
//! Boot: the sequencer's state is a projection of the log. Before it takes any command it
//! loads the newest snapshot from tiles (`SnapshotGet`/`SnapshotGot`, piece by piece; one
//! that does not decode is ignored), then pulls the durable entries after it
//! (`ReplayRequest`/`ReplayReply`, one entry bundle at a time) and replays each through the
//! core (`Sequencer::replay`, the same check the hosted daemon runs at start-up); then it
//! prints `sequencer: ready`. If tiles could not recover the disk, every command is
//! answered `storage_unavailable`.
//!
//! Snapshots: when idle with everything durable and the log grown enough, or on the
//! `snapshot` command, it streams its state to tiles (`SnapshotPiece`/`SnapshotPut`),
//! bound to the durable checkpoint's size and root (which tiles' notices carry).
#![no_std]
#![no_main]

extern crate alloc;

mod bench;
mod command;

use alloc::string::String;
use alloc::vec::Vec;

use bench::BenchRun;
use command::Outcome;
use ledgerfs_http::route::reply_tag;
use ledgerfs_model::time::UnixNanos;
use ledgerfs_proto::{
    CommitRequest, DurabilityNotice, LogFile, LogRead, ReplayReply, ReplayRequest, SnapshotGet, SnapshotGot,
    SnapshotPiece, SnapshotPut, decode, encode_vec, tiles_tag,
};
use ledgerfs_ring::{MessageReceiver, MessageSender, RegionLayout, RingError};
use ledgerfs_sel4_clock::{counter, ticks_to_nanos};
use ledgerfs_sel4_heap::RegionHeap;
use ledgerfs_sequencer::{EntryBuffer, Limits, Sequencer};
use ledgerfs_snapshot::{Binding, SECTION_SEQUENCER, Snapshot, Writer};
use sel4_microkit::{
    Channel, ChannelSet, Handler, Infallible, MessageInfo, debug_println, get_mr, memory_region_symbol,
    protection_domain,
};

/// The channel to the serial PD.
const SERIAL: Channel = Channel::new(1);
/// The channel to the tiles PD.
const TILES: Channel = Channel::new(2);
/// The protected-procedure channel into the timer PD.
const TIMER: Channel = Channel::new(5);
/// The channel to the network PD.
const NETWORK: Channel = Channel::new(3);
/// Size of each queue region to and from serial (system.xml).
const QUEUE_SIZE: usize = 0x80_0000;
/// Size of each queue region to and from the network PD (system.xml).
const NET_QUEUE_SIZE: usize = 0x200_0000;
/// Sizes of the queue regions to and from tiles (system.xml).
const SEQ_TO_TILES_SIZE: usize = 0x400_0000;
const TILES_TO_SEQ_SIZE: usize = 0x200_0000;

/// The sequencer's heap: the `sequencer_heap` memory region (system.xml), not `.bss`, so
/// its size does not count against the loader image, which must fit below 0x70000000 on
/// QEMU virt. Its bounds are set first thing in `init`, before anything allocates.
#[global_allocator]
static HEAP: RegionHeap = RegionHeap::new();
/// The heap's size, and the limits it is sized for, from the image build (`make image
/// TRANSFER_LIMIT= ACCOUNT_LIMIT=`), which writes the same size into the image's
/// system.xml: 128 bytes per transfer (the transfer-id table's 32-byte slots at their
/// worst, mid-rehash, plus the snapshot held while it is restored), 1 KiB per account and
/// 64 MiB for the rest, in 2 MiB pages. The defaults are the committed system.xml's.
const HEAP_SIZE: usize = build_number(option_env!("LEDGERFS_SEQUENCER_HEAP"), 0x2000_0000);
const TRANSFER_LIMIT: usize = build_number(option_env!("LEDGERFS_TRANSFER_LIMIT"), 3_000_000);
const ACCOUNT_LIMIT: usize = build_number(option_env!("LEDGERFS_ACCOUNT_LIMIT"), 100_000);

/// A decimal number from the image build's environment (or the default); a build with a
/// malformed one fails.
const fn build_number(value: Option<&str>, default: usize) -> usize {
    let Some(text) = value else { return default };
    let bytes = text.as_bytes();
    assert!(!bytes.is_empty(), "an image build limit is empty");
    let mut n = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        assert!(
            bytes[i].is_ascii_digit(),
            "an image build limit is not a decimal number"
        );
        n = n * 10 + (bytes[i] - b'0') as usize;
        i += 1;
    }
    n
}

#[protection_domain]
fn init() -> SequencerPd {
    ledgerfs_sel4_heap::install(
        &HEAP,
        memory_region_symbol!(sequencer_heap: *mut u8).as_ptr(),
        HEAP_SIZE,
    );
    // SAFETY: system.xml maps each queue region at its symbol into this PD and its peer
    // (serial or tiles) only; we are the receiving end of one and the sending end of the other.
    let (from_serial, to_serial, to_tiles, from_tiles, from_net, to_net) = unsafe {
        (
            MessageReceiver::attach(memory_region_symbol!(serial_to_seq: *mut u8).as_ptr(), QUEUE_SIZE),
            MessageSender::attach(memory_region_symbol!(seq_to_serial: *mut u8).as_ptr(), QUEUE_SIZE),
            MessageSender::attach(memory_region_symbol!(seq_to_tiles: *mut u8).as_ptr(), SEQ_TO_TILES_SIZE),
            MessageReceiver::attach(memory_region_symbol!(tiles_to_seq: *mut u8).as_ptr(), TILES_TO_SEQ_SIZE),
            MessageReceiver::attach(memory_region_symbol!(net_to_seq: *mut u8).as_ptr(), NET_QUEUE_SIZE),
            MessageSender::attach(memory_region_symbol!(seq_to_net: *mut u8).as_ptr(), NET_QUEUE_SIZE),
        )
    };
    let limits = Limits {
        max_accounts: ACCOUNT_LIMIT,
        max_transfers: TRANSFER_LIMIT,
        reserve_transfers: 1024,
    };
    let mut pd = SequencerPd {
        seq: Sequencer::new(limits),
        limits,
        durable_root: [0; 32],
        snapshot_size: 0,
        boot_replayed: 0,
        entries: EntryBuffer::new(),
        from_serial: from_serial.expect("serial_to_seq"),
        to_serial: to_serial.expect("seq_to_serial"),
        to_tiles: to_tiles.expect("seq_to_tiles"),
        from_tiles: from_tiles.expect("tiles_to_seq"),
        from_net: from_net.expect("net_to_seq"),
        to_net: to_net.expect("seq_to_net"),
        client: Client::Serial,
        net_turn: false,
        waiting: None,
        tiles_msg: alloc::vec![0; RegionLayout::new(TILES_TO_SEQ_SIZE).expect("queue region fits").buffer_size],
        line: alloc::vec![0; RegionLayout::new(NET_QUEUE_SIZE).expect("queue region fits").buffer_size],
        pending: None,
        command_id: None,
        failure: None,
        ready_ticks: 0,
    };
    debug_println!(
        "sequencer: recovering ({} accounts, {} transfers max; {} MiB heap)",
        limits.max_accounts,
        limits.max_transfers,
        HEAP_SIZE >> 20
    );
    pd.ask_snapshot(0, Vec::new(), counter());
    pd.pump();
    pd
}

/// A snapshot is taken when the sequencer is idle, everything is durable, and the log grew
/// by at least this many entries since the last one...
const SNAPSHOT_MIN_ENTRIES: u64 = 20_000;
/// ...and by at least this fraction of its size (1/4), so the snapshots written add up to
/// a few times the last one, not one per 20,000 entries of a large log.
const SNAPSHOT_GROWTH_DIVISOR: u64 = 4;

/// What the PD waits for from tiles before it takes the next command.
enum Waiting {
    /// Entries below `size` durable; then `then`.
    Durable { size: u64, then: Then },
    /// The current checkpoint note.
    Checkpoint,
    /// A file of the published tree (`log PATH`).
    LogFile,
    /// The next replay batch (boot).
    Replay { started: u64 },
    /// The next piece of the snapshot being loaded (boot), appended to `bytes`.
    SnapshotLoad { bytes: Vec<u8>, started: u64 },
    /// Tiles' answer to a piece of the snapshot being stored; `reply`: the `snapshot`
    /// command waits for it.
    SnapshotStore { bytes: Vec<u8>, started: u64, reply: bool },
}

/// What follows a durable commit.
enum Then {
    /// Send this reply.
    Reply(String),
    /// Continue this benchmark run.
    Bench(BenchRun),
}

/// The sequencer PD's state: the core, the queue ends, an unsent reply and what it
/// waits for from tiles.
struct SequencerPd {
    seq: Sequencer,
    limits: Limits,
    /// The tree's root at the durable size (from tiles' notices): snapshots are bound to it.
    durable_root: [u8; 32],
    /// Log size of the newest snapshot stored or loaded (0: none).
    snapshot_size: u64,
    /// Entries replayed at boot after the snapshot (the whole log without one).
    boot_replayed: u64,
    entries: EntryBuffer,
    from_serial: MessageReceiver<'static>,
    to_serial: MessageSender<'static>,
    to_tiles: MessageSender<'static>,
    from_tiles: MessageReceiver<'static>,
    from_net: MessageReceiver<'static>,
    to_net: MessageSender<'static>,
    /// Who sent the command being answered.
    client: Client,
    /// The network PD's queue is looked at first next time (the two take turns).
    net_turn: bool,
    waiting: Option<Waiting>,
    tiles_msg: Vec<u8>,
    line: Vec<u8>,
    pending: Option<Outgoing>,
    /// The id of the command being answered (`@ID ` prefix), echoed by its reply.
    command_id: Option<String>,
    /// Why tiles could not recover the disk; set, every command fails.
    failure: Option<String>,
    /// Counter value when the replay finished (0: not ready yet).
    ready_ticks: u64,
}

impl SequencerPd {
    /// Answers every waiting command, then sleeps with a signal requested.
    fn pump(&mut self) {
        let (mut wake_serial, mut wake_net) = (false, false);
        loop {
            self.take_tiles_messages();
            if let Some(reply) = self.pending.take() {
                let (sender, bytes, tag) = match (self.client, &reply) {
                    (Client::Serial, out) => {
                        let text = out.console_text();
                        let tagged = ledgerfs_console::tag(&text, self.command_id.as_deref());
                        (&mut self.to_serial, tagged.into_bytes(), 0)
                    }
                    (Client::Net, Outgoing::Json(json)) => {
                        (&mut self.to_net, json.clone().into_bytes(), reply_tag::JSON)
                    }
                    (Client::Net, Outgoing::File(bytes)) => (&mut self.to_net, bytes.clone(), reply_tag::FILE),
                    (Client::Net, Outgoing::Missing) => (&mut self.to_net, Vec::new(), reply_tag::NOT_FOUND),
                };
                match sender.send(&bytes, tag) {
                    Ok(()) => {
                        self.command_id = None;
                        match self.client {
                            Client::Serial => wake_serial |= self.to_serial.needs_signal(),
                            Client::Net => wake_net |= self.to_net.needs_signal(),
                        }
                    }
                    Err(RingError::Full) if sender.request_signal() == Ok(false) => {
                        self.pending = Some(reply);
                        continue;
                    }
                    Err(RingError::Full) => {
                        self.pending = Some(reply);
                        break;
                    }
                    Err(RingError::TooLong) => self.pending = Some(Outgoing::Json(too_large())),
                    Err(e) => break debug_println!("sequencer: reply queue stopped: {e}"),
                }
            }
            if self.pending.is_some() {
                continue;
            }
            if self.waiting.is_some() {
                match self.from_tiles.request_signal() {
                    Ok(false) => continue,
                    Ok(true) => break,
                    Err(e) => break debug_println!("sequencer: tiles_to_seq stopped: {e}"),
                }
            }
            // The two clients take turns.
            let order = if self.net_turn {
                [Client::Net, Client::Serial]
            } else {
                [Client::Serial, Client::Net]
            };
            let mut took = false;
            let mut stopped = false;
            for client in order {
                let queue = match client {
                    Client::Serial => &mut self.from_serial,
                    Client::Net => &mut self.from_net,
                };
                match queue.recv(&mut self.line) {
                    Ok((len, _tag)) => {
                        self.client = client;
                        self.net_turn = client == Client::Serial;
                        self.run_command(len);
                        took = true;
                        break;
                    }
                    Err(RingError::Empty) => {}
                    Err(e) => {
                        debug_println!("sequencer: {} stopped: {e}", client.queue());
                        stopped = true;
                    }
                }
            }
            if took {
                continue;
            }
            let serial_quiet = self.from_serial.request_signal() != Ok(false);
            let net_quiet = self.from_net.request_signal() != Ok(false);
            if !(serial_quiet && net_quiet) && !stopped {
                continue;
            }
            if self.start_snapshot() {
                continue;
            }
            break;
        }
        if wake_serial | self.from_serial.needs_signal() {
            SERIAL.notify();
        }
        if wake_net | self.from_net.needs_signal() {
            NETWORK.notify();
        }
        // Messages to tiles come from commands, replay steps and benchmark batches alike:
        // one check covers them all.
        if self.to_tiles.needs_signal() | self.from_tiles.needs_signal() {
            TILES.notify();
        }
    }

    /// Runs the command line in `self.line[..len]` (its `@ID ` prefix, if any, is kept
    /// for the reply).
    fn run_command(&mut self, len: usize) {
        let (id, command) = ledgerfs_console::split(&self.line[..len]);
        self.command_id = id.map(String::from);
        let (start, len) = (len - command.len(), command.len());
        self.line.copy_within(start..start + len, 0);
        if let Some(reason) = &self.failure {
            let message = alloc::format!("the disk could not be recovered: {reason}");
            self.pending = Outgoing::some(command::error("storage_unavailable", &message));
            return;
        }
        let now = wall_clock();
        match command::run(&mut self.seq, &mut self.entries, &self.line[..len], now) {
            Outcome::Reply(reply) => self.pending = Outgoing::some(reply),
            Outcome::Commit(reply) => self.commit(Then::Reply(reply)),
            Outcome::Checkpoint => self.ask_tiles(&[], tiles_tag::CHECKPOINT, Waiting::Checkpoint),
            Outcome::Log(path) => match encode_vec(&LogRead { path }) {
                Ok(bytes) => self.ask_tiles(&bytes, tiles_tag::LOG_READ, Waiting::LogFile),
                Err(_) => self.pending = Some(Outgoing::Missing),
            },
            Outcome::Status => self.pending = Outgoing::some(self.status()),
            Outcome::Snapshot => {
                if !self.take_snapshot(true) {
                    self.pending = Outgoing::some(command::error(
                        "snapshot_refused",
                        "the snapshot could not be handed to tiles",
                    ));
                }
            }
            Outcome::Bench(n) => {
                let run = BenchRun::new(n, self.seq.next_index(), counter());
                if self.seq.account("bench-source").is_none() {
                    let mut line = Vec::from(&b"accounts "[..]);
                    line.extend_from_slice(bench::ACCOUNTS);
                    match command::run(&mut self.seq, &mut self.entries, &line, now) {
                        Outcome::Commit(_) => return self.commit(Then::Bench(run)),
                        _ => {
                            return self.pending =
                                Outgoing::some(command::error("bench_failed", "opening the bench accounts"));
                        }
                    }
                }
                self.bench_step(run);
            }
        }
    }

    /// Sequences the next batch of a benchmark run, or replies with its figures.
    fn bench_step(&mut self, mut run: BenchRun) {
        let t0 = counter();
        if run.handed_at != 0 {
            run.committing += t0.wrapping_sub(run.handed_at);
        }
        let Some(batch) = run.next_batch() else {
            let elapsed = ticks_to_nanos(counter().wrapping_sub(run.started));
            self.pending = Outgoing::some(run.report(elapsed, self.seq.next_index(), ticks_to_nanos));
            return;
        };
        let mut line = Vec::from(&b"transfers "[..]);
        line.extend_from_slice(&batch);
        let t1 = counter();
        run.generating += t1.wrapping_sub(t0);
        match command::run(&mut self.seq, &mut self.entries, &line, wall_clock()) {
            Outcome::Commit(_) => {
                run.accepted += self.entries.len() as u64;
                let t2 = counter();
                run.sequencing += t2.wrapping_sub(t1);
                run.handed_at = t2;
                // `commit` encodes the request and sends it: the hand-off. Tiles' priority
                // is below ours, so its work starts only once this handler returns.
                self.commit(Then::Bench(run));
                if let Some(Waiting::Durable {
                    then: Then::Bench(run), ..
                }) = &mut self.waiting
                {
                    let t3 = counter();
                    run.handing_off += t3.wrapping_sub(run.handed_at);
                    run.handed_at = t3;
                }
            }
            Outcome::Reply(reply) => self.pending = Outgoing::some(reply),
            _ => self.pending = Outgoing::some(command::error("bench_failed", "unexpected outcome")),
        }
    }

    /// `status`: the ledger's size and the boot figures.
    fn status(&self) -> String {
        alloc::format!(
            "{{\"status\":{{\"size\":{},\"durable\":{},\"accounts\":{},\"transfers\":{},\"snapshot\":{},\"boot_replayed\":{},\"ready_after_reset_ms\":{},\"uptime_ms\":{}}}}}",
            self.seq.next_index(),
            self.seq.durable_size(),
            self.seq.accounts().len(),
            self.seq.transfer_count(),
            self.snapshot_size,
            self.boot_replayed,
            ticks_to_nanos(self.ready_ticks) / 1_000_000,
            ticks_to_nanos(counter()) / 1_000_000
        )
    }

    /// Boot: asks tiles for the snapshot's piece at `offset` (`bytes` holds those before).
    fn ask_snapshot(&mut self, offset: u64, bytes: Vec<u8>, started: u64) {
        let request = encode_vec(&SnapshotGet { offset }).expect("a snapshot request encodes");
        match self.to_tiles.send(&request, tiles_tag::SNAPSHOT_GET) {
            Ok(()) => self.waiting = Some(Waiting::SnapshotLoad { bytes, started }),
            Err(e) => self.failure = Some(alloc::format!("seq_to_tiles: {e}")),
        }
    }

    /// Boot: one piece of the snapshot from tiles; the whole of it restores the core,
    /// then the log's tail is replayed. Without a usable snapshot the whole log is.
    fn snapshot_loaded(&mut self, len: usize, mut bytes: Vec<u8>, started: u64) {
        match decode::<SnapshotGot>(&self.tiles_msg[..len]) {
            Ok(SnapshotGot::Piece {
                offset,
                total,
                bytes: piece,
            }) if offset == bytes.len() as u64 => {
                if offset == 0 {
                    // One allocation for the whole snapshot rather than a copy per doubling
                    // (bounded: a claimed size above a quarter of the heap grows as it comes).
                    bytes.reserve_exact((total as usize).min(HEAP_SIZE / 4));
                }
                bytes.extend_from_slice(&piece);
                if (bytes.len() as u64) < total && !piece.is_empty() {
                    return self.ask_snapshot(bytes.len() as u64, bytes, started);
                }
                match restore(&bytes, self.limits) {
                    Ok((seq, binding)) => {
                        debug_println!(
                            "sequencer: snapshot at {} loaded ({} bytes, {} accounts, {} transfers) in {} ms",
                            binding.size,
                            bytes.len(),
                            seq.accounts().len(),
                            seq.transfer_count(),
                            ticks_to_nanos(counter().wrapping_sub(started)) / 1_000_000
                        );
                        self.seq = seq;
                        self.durable_root = binding.root;
                        self.snapshot_size = binding.size;
                    }
                    Err(reason) => debug_println!("sequencer: snapshot ignored ({reason}); replaying the whole log"),
                }
            }
            Ok(SnapshotGot::None) => {}
            Ok(SnapshotGot::Failed { reason }) => {
                debug_println!("sequencer: snapshot ignored ({reason}); replaying the whole log")
            }
            _ => debug_println!("sequencer: snapshot ignored (malformed reply from tiles); replaying the whole log"),
        }
        self.waiting = Some(Waiting::Replay { started });
        self.ask_replay();
    }

    /// When idle with everything durable and the log grown enough since the last
    /// snapshot, hands tiles a new one (piece by piece). True if it started.
    fn start_snapshot(&mut self) -> bool {
        let size = self.seq.next_index();
        let grown = size.saturating_sub(self.snapshot_size);
        let due = grown >= SNAPSHOT_MIN_ENTRIES && grown >= size / SNAPSHOT_GROWTH_DIVISOR;
        let idle = self.waiting.is_none() && self.pending.is_none();
        due && idle && self.take_snapshot(false)
    }

    /// Encodes the state (all durable) as a snapshot bound to the durable checkpoint and
    /// sends tiles its first piece; `reply`: answer the console when it is stored. True if
    /// it went.
    fn take_snapshot(&mut self, reply: bool) -> bool {
        let size = self.seq.next_index();
        if self.failure.is_some() || self.ready_ticks == 0 || self.seq.durable_size() != size {
            return false;
        }
        let started = counter();
        let mut w = Writer::new();
        self.seq.encode_snapshot(&mut w);
        let binding = Binding {
            size,
            root: self.durable_root,
        };
        let bytes = ledgerfs_snapshot::encode(binding, &[(SECTION_SEQUENCER, &w.buf)]);
        // Retried only after as much growth again, whatever tiles answers.
        self.snapshot_size = size;
        self.send_snapshot_piece(0, bytes, started, reply)
    }

    /// Sends the piece of `bytes` at `offset`; true if it went.
    fn send_snapshot_piece(&mut self, offset: u64, bytes: Vec<u8>, started: u64, reply: bool) -> bool {
        let room = self.to_tiles.max_len() - 64;
        let end = (offset as usize + room).min(bytes.len());
        let piece = SnapshotPiece {
            offset,
            total: bytes.len() as u64,
            bytes: bytes[offset as usize..end].to_vec(),
        };
        let sent = encode_vec(&piece)
            .map_err(|_| RingError::TooLong)
            .and_then(|m| self.to_tiles.send(&m, tiles_tag::SNAPSHOT_PUT));
        match sent {
            Ok(()) => {
                self.waiting = Some(Waiting::SnapshotStore { bytes, started, reply });
                true
            }
            Err(e) => {
                debug_println!("sequencer: snapshot not sent: {e}");
                false
            }
        }
    }

    /// Tiles' answer to a snapshot piece: the next piece, or the end.
    fn snapshot_stored(&mut self, len: usize, bytes: Vec<u8>, started: u64, reply: bool) {
        let ms = ticks_to_nanos(counter().wrapping_sub(started)) / 1_000_000;
        let outcome = match decode::<SnapshotPut>(&self.tiles_msg[..len]) {
            Ok(SnapshotPut::Next { offset }) if offset < bytes.len() as u64 => {
                let total = bytes.len();
                if !self.send_snapshot_piece(offset, bytes, started, reply) {
                    Err(alloc::format!("piece at {offset} of {total} not sent"))
                } else {
                    return;
                }
            }
            Ok(SnapshotPut::Stored { size }) => {
                debug_println!(
                    "sequencer: snapshot at {size} stored ({} bytes) in {ms} ms",
                    bytes.len()
                );
                Ok(alloc::format!(
                    "{{\"snapshot\":{{\"size\":{size},\"bytes\":{},\"ms\":{ms}}}}}",
                    bytes.len()
                ))
            }
            Ok(SnapshotPut::Refused { reason }) => Err(reason),
            _ => Err(String::from("unexpected reply from tiles")),
        };
        if let Err(reason) = &outcome {
            debug_println!("sequencer: snapshot not stored: {reason}");
        }
        if reply {
            self.pending = Outgoing::some(match outcome {
                Ok(json) => json,
                Err(reason) => command::error("snapshot_refused", &reason),
            });
        }
    }

    /// Asks tiles for the durable entries from the core's next index on.
    fn ask_replay(&mut self) {
        let started = match &self.waiting {
            Some(Waiting::Replay { started }) => *started,
            _ => counter(),
        };
        let request = encode_vec(&ReplayRequest {
            from: self.seq.next_index(),
        })
        .expect("a replay request encodes");
        if let Err(e) = self.to_tiles.send(&request, tiles_tag::REPLAY) {
            self.failure = Some(alloc::format!("seq_to_tiles: {e}"));
            return;
        }
        self.waiting = Some(Waiting::Replay { started });
    }

    /// Applies one replay batch from tiles; asks for the next or becomes ready.
    fn replayed(&mut self, len: usize, started: u64) {
        let (first_index, size, root, entries) = match decode::<ReplayReply>(&self.tiles_msg[..len]) {
            Ok(ReplayReply::Entries {
                first_index,
                size,
                root,
                entries,
            }) => (first_index, size, root, entries),
            Ok(ReplayReply::Failed { reason }) => return self.fail(reason),
            Err(_) => return self.fail(String::from("malformed replay reply from tiles")),
        };
        if first_index != self.seq.next_index() || size < first_index + entries.len() as u64 {
            return self.fail(alloc::format!(
                "replay batch at {first_index} does not continue the log"
            ));
        }
        for (i, entry) in entries.iter().enumerate() {
            if let Err(e) = self.seq.replay(entry, &mut self.entries) {
                return self.fail(alloc::format!(
                    "entry {} does not replay: {e:?}",
                    first_index + i as u64
                ));
            }
        }
        self.seq.mark_durable(self.seq.next_index());
        if entries.is_empty() && self.seq.next_index() == size {
            self.durable_root = root;
            self.ready_ticks = counter();
            self.boot_replayed = size - self.snapshot_size;
            debug_println!(
                "sequencer: ready (log size {size}: {} accounts, {} transfers; snapshot at {}, {} entries replayed; {} ms; {} ms after reset)",
                self.seq.accounts().len(),
                self.seq.transfer_count(),
                self.snapshot_size,
                self.boot_replayed,
                ticks_to_nanos(self.ready_ticks.wrapping_sub(started)) / 1_000_000,
                ticks_to_nanos(self.ready_ticks) / 1_000_000
            );
        } else {
            self.waiting = Some(Waiting::Replay { started });
            self.ask_replay();
        }
    }

    fn fail(&mut self, reason: String) {
        debug_println!("sequencer: NOT READY: {reason}");
        self.failure = Some(reason);
        self.waiting = None;
    }

    /// Hands the last command's entries to tiles; `then` waits for their durability.
    fn commit(&mut self, then: Then) {
        let request = CommitRequest {
            epoch: self.seq.epoch(),
            first_index: self.entries.first_index().expect("a commit has entries"),
            entries: self.entries.iter().map(<[u8]>::to_vec).collect(),
        };
        let size = self.seq.next_index();
        match encode_vec(&request) {
            Ok(bytes) => self.ask_tiles(&bytes, tiles_tag::COMMIT, Waiting::Durable { size, then }),
            Err(_) => self.storage_failed(self.local_failure(), false),
        }
    }

    /// A failure noticed here (a request tiles could not be sent): the notice tiles
    /// would have sent, so the core's one roll-back rule applies.
    fn local_failure(&self) -> DurabilityNotice {
        DurabilityNotice::Failed {
            size: self.seq.durable_size(),
            epoch: self.seq.epoch(),
            full: false,
        }
    }

    /// Sends one message to tiles and waits for `waiting`; a message tiles cannot take
    /// fails the command (entries rolled back).
    fn ask_tiles(&mut self, bytes: &[u8], tag: u32, waiting: Waiting) {
        match self.to_tiles.send(bytes, tag) {
            Ok(()) => self.waiting = Some(waiting),
            Err(e) => {
                debug_println!("sequencer: seq_to_tiles: {e}");
                self.storage_failed(self.local_failure(), false);
            }
        }
    }

    /// Entries from the notice's size on were not stored: the core rolls them back (and
    /// starts a new epoch), and the command fails with the API's code (`storage_full`
    /// when the disk has no room, else `storage_unavailable`). An impossible notice is
    /// reported and changes nothing.
    fn storage_failed(&mut self, notice: DurabilityNotice, full: bool) {
        if let Err(e) = self.seq.apply_notice(notice.to_core()) {
            debug_println!("sequencer: impossible failure notice from tiles ({e:?}); ignored");
            return;
        }
        self.waiting = None;
        self.pending = Outgoing::some(match full {
            true => command::error(
                "storage_full",
                "the disk is full: the entries were not stored; nothing changed",
            ),
            false => command::error("storage_unavailable", "the entries were not stored; nothing changed"),
        });
    }

    /// Applies every message waiting from tiles.
    fn take_tiles_messages(&mut self) {
        loop {
            let (len, tag) = match self.from_tiles.recv(&mut self.tiles_msg) {
                Ok(m) => m,
                Err(RingError::Empty) => return,
                Err(e) => return debug_println!("sequencer: tiles_to_seq stopped: {e}"),
            };
            let bytes = &self.tiles_msg[..len];
            match (tag, self.waiting.take()) {
                (tiles_tag::CHECKPOINT, Some(Waiting::Checkpoint)) => {
                    self.pending = Outgoing::some(command::checkpoint(bytes))
                }
                (tiles_tag::LOG_READ, Some(Waiting::LogFile)) => {
                    self.pending = Some(match decode::<LogFile>(bytes) {
                        Ok(LogFile::Found(file)) => Outgoing::File(file),
                        Ok(LogFile::Missing) => Outgoing::Missing,
                        Ok(LogFile::Failed { reason }) => {
                            Outgoing::Json(command::error("storage_unavailable", &reason))
                        }
                        Err(_) => Outgoing::Json(command::error("storage_unavailable", "malformed reply from tiles")),
                    })
                }
                (tiles_tag::REPLAY, Some(Waiting::Replay { started })) => self.replayed(len, started),
                (tiles_tag::SNAPSHOT_GET, Some(Waiting::SnapshotLoad { bytes, started })) => {
                    self.snapshot_loaded(len, bytes, started)
                }
                (tiles_tag::SNAPSHOT_PUT, Some(Waiting::SnapshotStore { bytes, started, reply })) => {
                    self.snapshot_stored(len, bytes, started, reply)
                }
                (tiles_tag::COMMIT, waiting) => match decode::<DurabilityNotice>(bytes) {
                    Ok(notice @ DurabilityNotice::Durable { size, root }) => {
                        match self.seq.apply_notice(notice.to_core()) {
                            Ok(()) => {
                                if size == self.seq.durable_size() {
                                    self.durable_root = root;
                                }
                                match waiting {
                                    Some(Waiting::Durable { size: want, then }) if size >= want => match then {
                                        Then::Reply(reply) => self.pending = Outgoing::some(reply),
                                        Then::Bench(run) => self.bench_step(run),
                                    },
                                    other => self.waiting = other,
                                }
                            }
                            Err(e) => {
                                debug_println!("sequencer: impossible notice from tiles ({e:?}); ignored");
                                self.waiting = waiting;
                            }
                        }
                    }
                    Ok(notice @ DurabilityNotice::Failed { full, .. }) => {
                        self.waiting = waiting;
                        self.storage_failed(notice, full)
                    }
                    _ => {
                        debug_println!("sequencer: impossible notice from tiles; ignored");
                        self.waiting = waiting;
                    }
                },
                (tag, waiting) => {
                    debug_println!("sequencer: unexpected message (tag {tag}) from tiles; ignored");
                    self.waiting = waiting;
                }
            }
        }
    }
}

/// The sequencer state in a snapshot container, checked (layout, section, size). Its
/// checksum is not computed again: tiles sends the last piece only after the block store
/// checked the record's own SHA-256 over these very bytes.
fn restore(bytes: &[u8], limits: Limits) -> Result<(Sequencer, Binding), String> {
    let snapshot = Snapshot::decode_checked_by_store(bytes).map_err(|e| alloc::format!("{e}"))?;
    let section = snapshot.section(SECTION_SEQUENCER).map_err(|e| alloc::format!("{e}"))?;
    let seq = Sequencer::from_snapshot(section, limits).map_err(|e| alloc::format!("{e}"))?;
    if seq.next_index() != snapshot.binding.size || seq.durable_size() != snapshot.binding.size {
        return Err(String::from("its state is at another size than its binding"));
    }
    Ok((seq, snapshot.binding))
}

/// Wall-clock now from the timer PD (Unix nanoseconds).
fn wall_clock() -> UnixNanos {
    TIMER.pp_call(MessageInfo::new(0, 0));
    get_mr(0) as UnixNanos
}

/// A client of the sequencer PD.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Client {
    /// The serial console.
    Serial,
    /// The network PD (HTTP).
    Net,
}

impl Client {
    fn queue(self) -> &'static str {
        match self {
            Client::Serial => "serial_to_seq",
            Client::Net => "net_to_seq",
        }
    }
}

/// A reply waiting to be sent.
enum Outgoing {
    /// A JSON line.
    Json(String),
    /// A `/log/` file's bytes.
    File(Vec<u8>),
    /// No such `/log/` file.
    Missing,
}

impl Outgoing {
    /// `Some(Json)`: most replies are JSON text.
    fn some(json: String) -> Option<Outgoing> {
        Some(Outgoing::Json(json))
    }

    /// The reply as one console line (a file as its size and, if it is text, the text).
    fn console_text(&self) -> String {
        match self {
            Outgoing::Json(json) => json.clone(),
            Outgoing::File(bytes) => {
                let mut out = alloc::format!("{{\"file\":{{\"bytes\":{}", bytes.len());
                if let Ok(text) = core::str::from_utf8(bytes) {
                    out.push_str(",\"text\":");
                    ledgerfs_model::json::write_string(&mut out, text);
                }
                out.push_str("}}");
                out
            }
            Outgoing::Missing => command::error("not_found", "no such log file"),
        }
    }
}

/// The reply to a batch whose results do not fit one queue buffer.
fn too_large() -> String {
    String::from("{\"error\":{\"code\":\"reply_too_large\",\"message\":\"send smaller batches\"}}")
}

impl Handler for SequencerPd {
    type Error = Infallible;

    fn notified(&mut self, _channels: ChannelSet) -> Result<(), Self::Error> {
        self.pump();
        Ok(())
    }
}
