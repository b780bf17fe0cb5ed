//! The appliance console's protocol: line editing ([`LineBuffer`], the serial PD's) and
//! command ids.
//!
//! Command ids: a command line may start with `@ID ` (an id of 1
//! to [`MAX_ID_LEN`] bytes of `A-Z a-z 0-9 _ -`), and its one reply then starts with
//! `{"command_id":"ID",` in front of the reply's own members. A host tool gives every
//! command a fresh id and discards replies that do not carry it: a reply to a command
//! that timed out earlier, or to a line garbled while the image booted, is never taken
//! for the reply to the next command.
//!
//! The serial PD, the sequencer PD and the host tool (`ledgerfs appliance`) all use these
//! functions; nothing else parses or writes the prefix.
//!
//! Must never: accept an id that needs escaping in JSON, or change a reply's members.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(test)]
extern crate std;

mod line;

use alloc::string::String;

pub use line::{Input, LineBuffer};

/// Longest command id.
pub const MAX_ID_LEN: usize = 32;

/// The member a tagged reply starts with.
const MEMBER: &str = "{\"command_id\":\"";

/// Is `id` a valid command id?
pub fn valid_id(id: &[u8]) -> bool {
    (1..=MAX_ID_LEN).contains(&id.len()) && id.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-')
}

/// Splits a command line into its id (if it starts with a valid `@ID ` prefix) and the
/// command. A line starting with `@` whose id is not valid keeps its `@` (and so is an
/// unknown command).
pub fn split(line: &[u8]) -> (Option<&str>, &[u8]) {
    let Some(rest) = line.strip_prefix(b"@") else {
        return (None, line);
    };
    let end = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
    let id = &rest[..end];
    if !valid_id(id) {
        return (None, line);
    }
    let id = core::str::from_utf8(id).expect("ASCII");
    let command = rest.get(end + 1..).unwrap_or(&[]);
    (Some(id), command)
}

/// `reply` (a JSON object) tagged with `id`; an untagged reply without one. A reply that
/// is not an object is returned as it is.
pub fn tag(reply: &str, id: Option<&str>) -> String {
    match (id, reply.strip_prefix('{')) {
        (Some(id), Some(rest)) => {
            let mut out = String::with_capacity(reply.len() + MEMBER.len() + id.len() + 2);
            out.push_str(MEMBER);
            out.push_str(id);
            out.push('"');
            if !rest.trim_start().starts_with('}') {
                out.push(',');
            }
            out.push_str(rest);
            out
        }
        _ => String::from(reply),
    }
}

/// The id a reply line carries and the reply without it (`None` if it carries none).
pub fn untag(line: &str) -> (Option<&str>, String) {
    let Some(rest) = line.strip_prefix(MEMBER) else {
        return (None, String::from(line));
    };
    let Some(end) = rest.find('"') else {
        return (None, String::from(line));
    };
    let (id, after) = (&rest[..end], &rest[end + 1..]);
    if !valid_id(id.as_bytes()) {
        return (None, String::from(line));
    }
    let after = after.strip_prefix(',').unwrap_or(after);
    let mut reply = String::with_capacity(after.len() + 1);
    reply.push('{');
    reply.push_str(after);
    (Some(id), reply)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ids_split_off_and_tag_replies() {
        assert_eq!(split(b"@h12-3 status"), (Some("h12-3"), &b"status"[..]));
        assert_eq!(split(b"@x"), (Some("x"), &b""[..]));
        assert_eq!(split(b"status"), (None, &b"status"[..]));
        assert_eq!(split(b"@bad\"id status"), (None, &b"@bad\"id status"[..]));
        assert_eq!(split(b"@ status"), (None, &b"@ status"[..]));
        let long = [b'a'; MAX_ID_LEN + 1];
        assert_eq!(split(&long).0, None);

        let tagged = tag("{\"status\":{\"size\":5}}", Some("h1"));
        assert_eq!(tagged, "{\"command_id\":\"h1\",\"status\":{\"size\":5}}");
        assert_eq!(untag(&tagged), (Some("h1"), String::from("{\"status\":{\"size\":5}}")));
        assert_eq!(tag("{}", Some("h1")), "{\"command_id\":\"h1\"}");
        assert_eq!(untag("{\"command_id\":\"h1\"}"), (Some("h1"), String::from("{}")));
        assert_eq!(tag("{\"a\":1}", None), "{\"a\":1}");
        assert_eq!(untag("{\"a\":1}"), (None, String::from("{\"a\":1}")));
        assert_eq!(untag("{\"command_id\":\"a\\\"b\",\"x\":1}").0, None);
    }

    proptest! {
        #[test]
        fn tagging_round_trips(id in "[A-Za-z0-9_-]{1,32}", body in "\\{(\"[a-z]{1,5}\":[0-9]{1,3},)*\"z\":0\\}|\\{\\}") {
            let tagged = tag(&body, Some(&id));
            let (got, reply) = untag(&tagged);
            prop_assert_eq!(got, Some(id.as_str()));
            prop_assert_eq!(reply, body);
        }

        #[test]
        fn any_line_splits_without_panic(line in proptest::collection::vec(any::<u8>(), 0..64)) {
            let (id, command) = split(&line);
            if let Some(id) = id {
                prop_assert!(valid_id(id.as_bytes()));
                prop_assert!(command.len() < line.len());
            }
        }

        #[test]
        fn any_reply_untags_without_panic(line in ".{0,80}") {
            let _ = untag(&line);
        }
    }
}
