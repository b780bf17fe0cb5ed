//! Host check used by `make test-image`: reads a signed checkpoint note on stdin and
//! verifies it with the verifier key of KEY (a `PRIVATE+KEY+...` file; its `.vkey`
//! sibling, when present, must be that verifier key). Prints `origin size root-hex vkey`.
//!
//! Usage: verify_checkpoint KEY < note
use std::io::Read;

use ledgerfs_attest::{verify_checkpoint, SignerKey, VerifierKey};

fn main() {
    let path = std::env::args().nth(1).expect("usage: verify_checkpoint KEY < note");
    let text = std::fs::read_to_string(&path).expect("read KEY");
    let vkey = SignerKey::parse(text.trim()).expect("KEY is a signer key").verifier();
    if let Some(vpath) = path.strip_suffix(".key").map(|p| format!("{p}.vkey")) {
        if let Ok(published) = std::fs::read_to_string(&vpath) {
            let published = VerifierKey::parse(published.trim()).expect("a verifier key");
            assert_eq!(published.encode(), vkey.encode(), "{vpath} is not KEY's verifier key");
        }
    }
    let mut note = Vec::new();
    std::io::stdin().read_to_end(&mut note).expect("read the note");
    match verify_checkpoint(&vkey, &note) {
        Ok(cp) => {
            let root: String = cp.root.iter().map(|b| format!("{b:02x}")).collect();
            println!("{} {} {} {}", cp.origin, cp.size, root, vkey.encode());
        }
        Err(e) => {
            eprintln!("verify_checkpoint: {e}");
            std::process::exit(1);
        }
    }
}
