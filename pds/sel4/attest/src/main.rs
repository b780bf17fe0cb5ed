//! The attest protection domain: the only PD holding the log's signing key. It owns a
//! `ledgerfs_attest::Attestor` (which refuses rollbacks and forks) and answers the tiles
//! PD's sign requests: tiles puts a postcard `SignRequest` on `tiles_to_attest` and makes a
//! protected procedure call; this PD answers each waiting request with a postcard
//! `SignReply` on `attest_to_tiles` before the call returns. It signs nothing else. At boot
//! tiles first sends the checkpoint it recovered from disk (`attest_tag::RESUME`): attest
//! checks it was signed with its own key and remembers it, so a rollback or fork stays
//! refused across reboots.
//!
//! Key provisioning: `make image KEY=<attest.key>` (a `ledgerfs init` key, generated into
//! build/ when absent) compiles the key text into this PD's ELF only (`include_str!` of
//! `LEDGERFS_ATTEST_KEY`). Microkit loads each ELF into memory mapped only into its own PD,
//! so no other PD's address space ever holds it; no shared region carries it.
//!
//! `make image ML_DSA_44=1` (`LEDGERFS_ML_DSA_44=1` here) adds an ML-DSA-44 signature to
//! every checkpoint, with the key the core derives from the same seed (as the hosted
//! daemon's `ml_dsa_44 = true`); `ledgerfs key --ml-dsa` prints its verifier key.
#![no_std]
#![no_main]

extern crate alloc;

use ledgerfs_attest::{Attestor, SignReply, SignRequest, SignerKey};
use ledgerfs_proto::attest_tag;
use ledgerfs_ring::{MessageReceiver, MessageSender, RegionLayout, RingError};
use sel4_microkit::{
    Channel, Handler, Infallible, MessageInfo, debug_println, memory_region_symbol, protection_domain,
};

/// The signing key, in the Go note private key format (`PRIVATE+KEY+name+hash+...`).
const KEY: &str = include_str!(env!("LEDGERFS_ATTEST_KEY"));
/// Whether checkpoints also carry an ML-DSA-44 signature (`make image ML_DSA_44=1`).
const ML_DSA_44: bool = match option_env!("LEDGERFS_ML_DSA_44") {
    Some(v) => matches!(v.as_bytes(), b"1"),
    None => false,
};
/// Size of each queue region to and from tiles (system.xml).
const QUEUE_SIZE: usize = 0x10_0000;

#[protection_domain(heap_size = 1024 * 1024)]
fn init() -> AttestPd {
    let mut key = SignerKey::parse(KEY.trim()).expect("the provisioned key parses");
    if ML_DSA_44 {
        key = key.with_ml_dsa();
    }
    let origin = alloc::string::String::from(key.name());
    let algorithms = if ML_DSA_44 { "Ed25519 and ML-DSA-44" } else { "Ed25519" };
    debug_println!("attest: ready (origin {origin}; signs with {algorithms})");
    // SAFETY: system.xml maps each queue region at its symbol into this PD and tiles only.
    let (from_tiles, to_tiles) = unsafe {
        (
            MessageReceiver::attach(memory_region_symbol!(tiles_to_attest: *mut u8).as_ptr(), QUEUE_SIZE),
            MessageSender::attach(memory_region_symbol!(attest_to_tiles: *mut u8).as_ptr(), QUEUE_SIZE),
        )
    };
    AttestPd {
        attestor: Attestor::new(key, origin),
        from_tiles: from_tiles.expect("tiles_to_attest"),
        to_tiles: to_tiles.expect("attest_to_tiles"),
        buf: alloc::vec![0; RegionLayout::new(QUEUE_SIZE).expect("queue region fits").buffer_size],
    }
}

struct AttestPd {
    attestor: Attestor,
    from_tiles: MessageReceiver<'static>,
    to_tiles: MessageSender<'static>,
    buf: alloc::vec::Vec<u8>,
}

impl AttestPd {
    /// Answers every waiting request from tiles (tiles sends one per call): a sign request,
    /// or at boot the checkpoint recovered from disk.
    fn serve(&mut self) {
        loop {
            let (len, tag) = match self.from_tiles.recv(&mut self.buf) {
                Ok(m) => m,
                Err(RingError::Empty) => return,
                Err(e) => return debug_println!("attest: tiles_to_attest stopped: {e}"),
            };
            let bytes = match tag {
                attest_tag::RESUME => self.resume(len),
                _ => {
                    let reply = match ledgerfs_proto::decode::<SignRequest>(&self.buf[..len]) {
                        Ok(req) => self.attestor.handle(&req),
                        Err(_) => return debug_println!("attest: malformed sign request; ignored"),
                    };
                    if let SignReply::Refused(r) = &reply {
                        debug_println!("attest: refused: {r}");
                    }
                    ledgerfs_proto::encode_vec(&reply).expect("a reply encodes")
                }
            };
            if let Err(e) = self.to_tiles.send(&bytes, tag) {
                return debug_println!("attest: attest_to_tiles: {e}");
            }
        }
    }

    /// Adopts the disk's checkpoint as the last signed one if this key signed it: from now
    /// on attest refuses to sign a smaller tree or a different root at its size. Replies
    /// empty on success, else the reason.
    fn resume(&mut self, len: usize) -> alloc::vec::Vec<u8> {
        match self.attestor.restore_last_signed_note(&self.buf[..len]) {
            Ok(()) => {
                let (size, _) = self.attestor.last_signed().expect("just restored");
                debug_println!("attest: resumed at the disk's checkpoint (size {size})");
                alloc::vec::Vec::new()
            }
            Err(e) => {
                debug_println!("attest: the disk's checkpoint is not ours: {e}");
                alloc::format!("the disk's checkpoint does not verify with this image's key: {e}").into_bytes()
            }
        }
    }
}

impl Handler for AttestPd {
    type Error = Infallible;

    fn protected(&mut self, _channel: Channel, _msg_info: MessageInfo) -> Result<MessageInfo, Self::Error> {
        self.serve();
        Ok(MessageInfo::new(0, 0))
    }
}
