//! The host side of the appliance's serial console (`ledgerfs appliance`): QEMU exposes
//! the console as a unix socket (`-serial unix:PATH,server=on,wait=off`); the console
//! takes one command per line and answers each with exactly one JSON line. Everything
//! else on the line (the console's echo of what was typed, boot and debug messages of
//! the protection domains) is not a reply; the reply is the next line starting with `{`.
//!
//! Every command goes out with a fresh command id (`@ID command`, `ledgerfs_console`), and
//! only a reply carrying that id is taken: a late reply to a command that timed out
//! earlier, or the error reply to a line garbled while the image booted, is shown with
//! `--verbose` and discarded.
//!
//! Must never: send more than one line per command (a line break inside a command would
//! be a second command), take the echo of a command that itself starts with `{` for its
//! reply, or take a reply that does not carry the command's id.

use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::error::{Error, Result};

/// What ends a command line on the console (what a terminal sends for Enter).
const LINE_END: &[u8] = b"\r";

/// A connection to the appliance's console socket.
#[derive(Debug)]
pub struct Console {
    stream: UnixStream,
    path: PathBuf,
    /// Bytes received but not yet split into lines.
    pending: Vec<u8>,
}

/// One reply: the line as received and its parsed JSON.
#[derive(Debug)]
pub struct Reply {
    /// The reply line, without its line end and its command id.
    pub line: String,
    /// The parsed reply.
    pub value: Value,
}

impl Reply {
    /// `(code, message)` when the reply is an error (`{"error":{"code","message"}}`),
    /// so the CLI can exit non-zero.
    pub fn error(&self) -> Option<(String, String)> {
        let error = self.value.get("error")?;
        let text = |key: &str| error.get(key).and_then(Value::as_str).map(str::to_string);
        match (text("code"), text("message")) {
            (Some(code), message) => Some((code, message.unwrap_or_default())),
            (None, _) => Some(("error".into(), error.to_string())),
        }
    }
}

/// Makes `text` one console line: JSON allows line breaks only as whitespace (never raw
/// inside a string), so replacing them by spaces keeps a JSON document's meaning.
pub fn one_line(text: &str) -> String {
    text.trim().replace(['\r', '\n'], " ")
}

/// A command id no other command of this process or a recent one has: the process id,
/// the clock's low bits and a counter.
fn fresh_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "h{:x}-{:x}-{}",
        std::process::id(),
        nanos,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

impl Console {
    /// Connects to the console socket QEMU serves.
    pub fn connect(path: &Path) -> Result<Console> {
        let stream = UnixStream::connect(path).map_err(|e| {
            Error::Appliance(format!(
                "cannot connect to the appliance console at {}: {e} (is QEMU running with -serial unix:{},server=on,wait=off?)",
                path.display(),
                path.display()
            ))
        })?;
        Ok(Console {
            stream,
            path: path.to_path_buf(),
            pending: Vec::new(),
        })
    }

    /// Sends `line` as one command and waits up to `timeout` for its JSON reply; every
    /// other line seen meanwhile is handed to `other` (the CLI's `--verbose`).
    pub fn request(&mut self, line: &str, timeout: Duration, other: &mut dyn FnMut(&str)) -> Result<Reply> {
        if line.is_empty() || line.contains(['\r', '\n']) {
            return Err(Error::Client(
                "a console command is one non-empty line (no line breaks)".into(),
            ));
        }
        let deadline = Instant::now() + timeout;
        let id = fresh_id();
        let tagged = format!("@{id} {line}");
        let mut sent = Vec::with_capacity(tagged.len() + LINE_END.len());
        sent.extend_from_slice(tagged.as_bytes());
        sent.extend_from_slice(LINE_END);
        self.stream
            .set_write_timeout(Some(timeout.max(Duration::from_millis(1))))
            .and_then(|()| self.stream.write_all(&sent))
            .map_err(|e| Error::Appliance(format!("{}: sending the command: {e}", self.path.display())))?;
        let mut echo_seen = false;
        loop {
            let received = self.next_line(deadline, timeout)?;
            let text = received.replace(['\r', '\u{8}'], "");
            if !echo_seen && text.trim() == tagged.trim() {
                echo_seen = true;
                other(&text);
                continue;
            }
            if !text.starts_with('{') {
                other(&text);
                continue;
            }
            let (got, reply) = ledgerfs_console::untag(&text);
            if got != Some(id.as_str()) {
                other(&format!("(not the reply to this command, discarded) {text}"));
                continue;
            }
            let value = serde_json::from_str(&reply)
                .map_err(|e| Error::Appliance(format!("the reply is not valid JSON ({e}): {reply}")))?;
            return Ok(Reply { line: reply, value });
        }
    }

    /// The next complete line received before `deadline`.
    fn next_line(&mut self, deadline: Instant, timeout: Duration) -> Result<String> {
        loop {
            if let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=end).collect();
                return Ok(String::from_utf8_lossy(&line[..end]).into_owned());
            }
            let now = Instant::now();
            let no_reply = || {
                Error::Appliance(format!(
                    "no reply from the appliance within {} s (see the console with --verbose)",
                    timeout.as_secs_f64()
                ))
            };
            if now >= deadline {
                return Err(no_reply());
            }
            self.stream
                .set_read_timeout(Some(deadline - now))
                .map_err(|e| Error::Appliance(format!("{}: {e}", self.path.display())))?;
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    return Err(Error::Appliance(format!(
                        "{}: the appliance closed the console before replying",
                        self.path.display()
                    )))
                }
                Ok(n) => self.pending.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => return Err(no_reply()),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::Appliance(format!("{}: {e}", self.path.display()))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn one_line_keeps_json_meaning() {
        let text = "[\n  {\"id\": \"a b\",\r\n   \"currency\": \"EUR\"}\n]\n";
        let line = one_line(text);
        assert!(!line.contains(['\r', '\n']));
        let a: Value = serde_json::from_str(text).unwrap();
        let b: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn error_replies_are_recognised() {
        let reply = |value: Value| Reply {
            line: value.to_string(),
            value,
        };
        assert_eq!(
            reply(json!({"error": {"code": "not_found", "message": "no such account"}})).error(),
            Some(("not_found".into(), "no such account".into()))
        );
        assert_eq!(
            reply(json!({"error": {"code": "busy"}})).error(),
            Some(("busy".into(), String::new()))
        );
        assert_eq!(reply(json!({"results": []})).error(), None);
    }
}
