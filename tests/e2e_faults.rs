//! Faults inside the daemon: a domain thread that panics takes the process down with a
//! message naming it (so a supervisor restarts it), and the restart recovers everything
//! that was acknowledged.

mod support;

use std::time::{Duration, Instant};

use support::*;

#[test]
fn a_panicking_domain_thread_takes_the_daemon_down_and_restart_recovers() {
    let dir = temp_dir("panic");
    init(&dir);
    // The committer panics at its third commit (the child inherits this variable).
    std::env::set_var("LEDGERFS_TEST_PANIC_AT_COMMIT", "2");
    let mut d = Daemon::start(&dir);
    std::env::remove_var("LEDGERFS_TEST_PANIC_AT_COMMIT");
    let (s, _) = d.post(
        "/v1/accounts",
        r#"[{"id":"a","currency":"EUR"},{"id":"b","currency":"EUR"}]"#,
    );
    assert_eq!(s, 200);
    let (s, _) = d.post(
        "/v1/transfers",
        r#"{"id":"t1","debit":"a","credit":"b","amount":"1.00","currency":"EUR"}"#,
    );
    assert_eq!(s, 200);
    // This write reaches the committer's third commit: the process must exit, not hang.
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(10)).build();
    let _ = agent
        .post(&format!("{}/v1/transfers", d.base))
        .set("Authorization", &format!("Bearer {}", d.token))
        .set("Content-Type", "application/json")
        .send_string(r#"{"id":"t2","debit":"a","credit":"b","amount":"1.00","currency":"EUR"}"#);
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = d.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the daemon outlived its committer");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(!status.success());
    let log = std::fs::read_to_string(daemon_log(&dir)).unwrap();
    assert!(log.contains("the committer domain thread panicked"), "{log}");
    // Restart: everything acknowledged is there.
    let d = Daemon::start(&dir);
    assert_eq!(d.get("/v1/transfers/t1").0, 200);
    d.stop();
}
