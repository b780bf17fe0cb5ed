//! Submitting a checkpoint to one C2SP tlog-witness (`POST <prefix>/add-checkpoint`), the
//! client side both `ledgerfs witness collect` and the daemon's witnessed publication
//! use: first with the size the witness is believed to have cosigned, and on a `409`
//! (`text/x.tlog.size`) once more with the consistency proof from the size it names.

use ledgerfs_witness::PolicyWitness;

/// How one submission ended.
#[derive(Debug)]
pub enum Submission {
    /// The witness cosigned: its cosignature line(s), verified against its key.
    Cosigned(String),
    /// The witness cosigned a larger tree of this log, or a different tree at this size:
    /// the log forked or was rolled back, as far as this witness can tell.
    Conflict(String),
    /// The witness refused (its status and reason) or answered with no valid cosignature.
    Refused(String),
    /// No answer (connection refused, timeout).
    Down(String),
}

/// One HTTP answer.
enum Reply {
    Ok(String),
    Status(u16, bool, String),
    Down(String),
}

/// Submits `note` (a checkpoint of `size` entries, signed by the log) to `witness`,
/// claiming the witness last cosigned `known` entries; `proof(old)` gives the
/// consistency proof from `old` to `size`, one base64 hash per element.
pub fn submit(
    agent: &ureq::Agent,
    witness: &PolicyWitness,
    note: &str,
    size: u64,
    known: u64,
    proof: &dyn Fn(u64) -> Result<Vec<String>, String>,
) -> Submission {
    let Some(url) = &witness.url else {
        return Submission::Down("the policy gives no URL".into());
    };
    let endpoint = format!("{}/add-checkpoint", url.trim_end_matches('/'));
    let post = |old: u64| -> Reply {
        let hashes = if old > 0 && old < size {
            match proof(old) {
                Ok(h) => h,
                Err(e) => return Reply::Down(format!("no consistency proof from {old}: {e}")),
            }
        } else {
            Vec::new()
        };
        let mut body = format!("old {old}\n");
        for h in &hashes {
            body.push_str(h);
            body.push('\n');
        }
        body.push('\n');
        body.push_str(note);
        match agent.post(&endpoint).send_string(&body) {
            Ok(r) => Reply::Ok(r.into_string().unwrap_or_default()),
            Err(ureq::Error::Status(code, r)) => {
                let size_body = r
                    .header("content-type")
                    .is_some_and(|t| t.starts_with("text/x.tlog.size"));
                Reply::Status(code, size_body, r.into_string().unwrap_or_default())
            }
            Err(e) => Reply::Down(e.to_string()),
        }
    };
    let mut reply = post(known.min(size));
    if let Reply::Status(409, true, text) = &reply {
        reply = match text.trim().parse::<u64>() {
            Ok(old) if old <= size => post(old),
            Ok(old) => {
                return Submission::Conflict(format!(
                    "it cosigned a tree of {old} entries, larger than this checkpoint's {size}"
                ))
            }
            Err(_) => return Submission::Refused(format!("409 with an unreadable size {:?}", text.trim())),
        };
    }
    match reply {
        Reply::Ok(line) => {
            let candidate = format!("{note}{line}");
            if witness.key.verify(candidate.as_bytes()).is_ok() {
                Submission::Cosigned(line)
            } else {
                Submission::Refused("its answer is not a valid cosignature".into())
            }
        }
        // After the retry a 409 means the tree it cosigned at our old size differs, and a
        // 422 that our proof did not convince it: both are what a fork looks like to it.
        Reply::Status(code @ (409 | 422), _, text) => Submission::Conflict(format!("{code}: {}", text.trim())),
        Reply::Status(code, _, text) => Submission::Refused(format!("{code}: {}", text.trim())),
        Reply::Down(e) => Submission::Down(e),
    }
}
