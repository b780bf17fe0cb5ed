//! C2SP tlog-policy (<https://c2sp.org/tlog-policy>): which logs, which witnesses, and the
//! quorum of cosignatures a checkpoint needs to be trusted. Parsed from the line format
//! (`log <vkey> [url]`, `witness <name> <vkey> [url]`, `group <name> all|any|<k> <name>...`,
//! `quorum <name>|none`, `#` comments), and evaluated on a checkpoint note.

use alloc::collections::BTreeSet;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use ledgerfs_attest::{verify_checkpoint, Checkpoint, CosignatureVerifier, VerifierKey};

/// A log of the policy.
#[derive(Clone, Debug)]
pub struct PolicyLog {
    /// Its key (its name is the log's origin).
    pub key: VerifierKey,
    /// Where to reach it, if given.
    pub url: Option<String>,
}

/// A witness of the policy.
#[derive(Clone, Debug)]
pub struct PolicyWitness {
    /// The policy's name for it.
    pub name: String,
    /// Its cosignature key.
    pub key: CosignatureVerifier,
    /// Its submission prefix, if given.
    pub url: Option<String>,
}

#[derive(Clone, Debug)]
struct Group {
    name: String,
    threshold: usize,
    members: Vec<String>,
}

/// A parsed policy.
#[derive(Clone, Debug)]
pub struct Policy {
    /// The logs.
    pub logs: Vec<PolicyLog>,
    /// The witnesses.
    pub witnesses: Vec<PolicyWitness>,
    groups: Vec<Group>,
    quorum: String,
}

/// What a checkpoint's cosignatures establish under a policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The checkpoint (signed by a policy log).
    pub checkpoint: Checkpoint,
    /// The policy names of the witnesses whose cosignature verified.
    pub cosigned_by: Vec<String>,
    /// Whether they meet the quorum.
    pub quorum_met: bool,
}

fn line_error(n: usize, why: &str) -> String {
    alloc::format!("policy line {n}: {why}")
}

impl Policy {
    /// Parses a policy file's text.
    pub fn parse(text: &str) -> Result<Policy, String> {
        let mut p = Policy {
            logs: Vec::new(),
            witnesses: Vec::new(),
            groups: Vec::new(),
            quorum: String::new(),
        };
        let mut names: BTreeSet<String> = BTreeSet::new();
        for (i, raw) in text.split('\n').enumerate() {
            let n = i + 1;
            if raw.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
                return Err(line_error(n, "control characters are not allowed"));
            }
            let words: Vec<&str> = raw.split([' ', '\t']).filter(|w| !w.is_empty()).collect();
            match words.as_slice() {
                [] => {}
                [first, ..] if first.starts_with('#') => {}
                ["log", vkey, rest @ ..] if rest.len() <= 1 => {
                    let key = VerifierKey::parse(vkey).map_err(|e| line_error(n, &alloc::format!("log key: {e}")))?;
                    if p.logs.iter().any(|l| l.key.key_material() == key.key_material()) {
                        return Err(line_error(n, "a duplicate log"));
                    }
                    p.logs.push(PolicyLog {
                        key,
                        url: rest.first().map(|u| u.to_string()),
                    });
                }
                ["witness", name, vkey, rest @ ..] if rest.len() <= 1 => {
                    let key = CosignatureVerifier::parse(vkey)
                        .map_err(|e| line_error(n, &alloc::format!("witness key: {e}")))?;
                    if *name == "none" || !names.insert(name.to_string()) {
                        return Err(line_error(n, "a witness name already defined (or `none`)"));
                    }
                    if p.witnesses.iter().any(|w| w.key.public_key() == key.public_key()) {
                        return Err(line_error(n, "a duplicate witness key"));
                    }
                    p.witnesses.push(PolicyWitness {
                        name: name.to_string(),
                        key,
                        url: rest.first().map(|u| u.to_string()),
                    });
                }
                ["group", name, k, members @ ..] if !members.is_empty() => {
                    let mut seen = BTreeSet::new();
                    for m in members {
                        if !names.contains(*m) || !seen.insert(*m) {
                            return Err(line_error(n, "a group member undefined above, `none`, or listed twice"));
                        }
                    }
                    let threshold = match *k {
                        "all" => members.len(),
                        "any" => 1,
                        k => match k.parse::<usize>() {
                            Ok(k) if (1..=members.len()).contains(&k) && !k.to_string().starts_with('0') => k,
                            _ => return Err(line_error(n, "the threshold is all, any or 1..=members")),
                        },
                    };
                    if *name == "none" || !names.insert(name.to_string()) {
                        return Err(line_error(n, "a group name already defined (or `none`)"));
                    }
                    p.groups.push(Group {
                        name: name.to_string(),
                        threshold,
                        members: members.iter().map(|m| m.to_string()).collect(),
                    });
                }
                ["quorum", name] => {
                    if !p.quorum.is_empty() {
                        return Err(line_error(n, "a second quorum line"));
                    }
                    if *name != "none" && !names.contains(*name) {
                        return Err(line_error(n, "the quorum names nothing defined above"));
                    }
                    p.quorum = name.to_string();
                }
                _ => return Err(line_error(n, "not a log, witness, group or quorum line")),
            }
        }
        if p.quorum.is_empty() {
            return Err("the policy has no quorum line".into());
        }
        Ok(p)
    }

    fn witnessed(&self, name: &str, cosigned: &BTreeSet<String>) -> bool {
        if name == "none" {
            return true;
        }
        if cosigned.contains(name) {
            return true;
        }
        match self.groups.iter().find(|g| g.name == name) {
            Some(g) => g.members.iter().filter(|m| self.witnessed(m, cosigned)).count() >= g.threshold,
            None => false,
        }
    }

    /// Checks `note`: signed by one of the policy's logs (else the error), which of the
    /// policy's witnesses cosigned it, and whether they meet the quorum.
    pub fn check(&self, note: &[u8]) -> Result<Verdict, String> {
        let checkpoint = self
            .logs
            .iter()
            .find_map(|l| verify_checkpoint(&l.key, note).ok())
            .ok_or("the checkpoint carries no valid signature of a policy log")?;
        let cosigned: BTreeSet<String> = self
            .witnesses
            .iter()
            .filter(|w| w.key.verify(note).is_ok())
            .map(|w| w.name.clone())
            .collect();
        Ok(Verdict {
            quorum_met: self.witnessed(&self.quorum, &cosigned),
            cosigned_by: cosigned.into_iter().collect(),
            checkpoint,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledgerfs_attest::{sign_checkpoint, CosignerKey, SignerKey};

    #[test]
    fn quorums_of_groups_as_the_spec_example() {
        let log = SignerKey::from_seed("bank.example/ledger", [1; 32]).unwrap();
        let w: Vec<CosignerKey> = (0..6u8)
            .map(|i| CosignerKey::from_seed(&alloc::format!("w.example/{i}"), [10 + i; 32]).unwrap())
            .collect();
        let text = alloc::format!(
            "# X and Y\nlog {} https://bank.example/\n\nwitness X1 {}\nwitness X2 {}\n\twitness X3 {} http://x3/\ngroup X-witnesses 2 X1 X2 X3\n\
             witness Y1 {}\nwitness Y2 {}\nwitness Y3 {}\ngroup Y-witnesses any Y1 Y2 Y3\ngroup X-and-Y all X-witnesses Y-witnesses\nquorum X-and-Y\n",
            log.verifier().encode(),
            w[0].verifier().encode(),
            w[1].verifier().encode(),
            w[2].verifier().encode(),
            w[3].verifier().encode(),
            w[4].verifier().encode(),
            w[5].verifier().encode()
        );
        let policy = Policy::parse(&text).unwrap();
        assert_eq!(policy.witnesses[2].url.as_deref(), Some("http://x3/"));
        let note = sign_checkpoint(
            &log,
            &Checkpoint {
                origin: "bank.example/ledger".into(),
                size: 5,
                root: [3; 32],
                extensions: Vec::new(),
            },
        )
        .unwrap();
        let body = &note[..note.rfind("\n\n").unwrap() + 1];
        let with = |who: &[usize]| {
            let mut n = note.clone();
            for &i in who {
                n.push_str(&w[i].cosign(body, 1_700_000_000));
            }
            policy.check(n.as_bytes()).unwrap()
        };
        assert!(!with(&[]).quorum_met);
        assert!(!with(&[0, 1]).quorum_met, "X only");
        assert!(!with(&[0, 3, 4]).quorum_met, "one X");
        let v = with(&[0, 2, 5]);
        assert!(v.quorum_met);
        assert_eq!(v.cosigned_by, ["X1", "X3", "Y3"]);
        // A cosignature over another checkpoint does not count.
        let mut forged = note.clone();
        forged.push_str(&w[0].cosign("bank.example/ledger\n6\nAAAA\n", 1));
        assert!(policy.check(forged.as_bytes()).unwrap().cosigned_by.is_empty());
        for bad in [
            "quorum X",
            "witness a b\nquorum none",
            "quorum none\nquorum none",
            "group g 1 nobody\nquorum g",
            "bogus line\nquorum none",
            "",
        ] {
            assert!(Policy::parse(bad).is_err(), "{bad:?}");
        }
        let none = Policy::parse(&alloc::format!("log {}\nquorum none\n", log.verifier().encode())).unwrap();
        assert!(none.check(note.as_bytes()).unwrap().quorum_met);
    }
}
