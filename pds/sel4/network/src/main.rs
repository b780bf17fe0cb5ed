//! The network protection domain: TCP/IP (smoltcp, a static IPv4 address from the image
//! build) over the net_driver PD's frame queues, and the appliance's HTTP/1.1 API. It maps
//! no device and holds no key: it frames requests and checks tokens with ledgerfs-http,
//! sends each request's console command to the sequencer PD (`net_to_seq`) and writes the
//! reply it gets back (`seq_to_net`) as the response. The ledger's rules, and the bodies,
//! are the sequencer core's; the routes, codes and token check are ledgerfs-http's.
//!
//! Connections: [`SOCKETS`] TCP sockets listen on port 80; [`MAX_CONNECTIONS`] are served at
//! once with keep-alive, one more is answered `503 too_many_connections` and closed, and
//! further SYNs are refused. Each connection has at most one request at the sequencer.
//! Replies come back in the order the commands were sent (one queue, answered in order),
//! so a FIFO of (slot, generation) pairs ties each reply to its connection; a reply for a
//! connection that has gone is dropped.
//!
//! A slow or hostile client cannot stall the ledger: a request is at most
//! `MAX_HEAD + MAX_BODY` bytes, a connection that sends nothing whole for
//! [`IDLE_TIMEOUT_MS`] is closed, and the sequencer never waits for this PD (its replies
//! wait in `seq_to_net`; the serial console is another queue). Timeouts are checked each
//! time the PD runs: every frame or reply wakes it, and so does its alarm (`timer`), armed
//! for smoltcp's next deadline (retransmission, persist probe) or, while a connection is
//! open, at most [`IDLE_CHECK_MS`] ahead. No segment is lost on this side: a full
//! `net_tx` holds smoltcp back until the driver frees a buffer (see `device`).
#![no_std]
#![no_main]

extern crate alloc;

mod device;
mod timer;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;

use device::Frames;
use ledgerfs_http::request::{Parsed, parse};
use ledgerfs_http::route::{Reply, Route, respond, route};
use ledgerfs_http::{Limits, Response, Tokens};
use ledgerfs_ring::{MessageReceiver, MessageSender, RegionLayout, RingError};
use ledgerfs_sel4_clock::{counter, frequency, ticks_to_nanos};
use sel4_microkit::{Channel, ChannelSet, Handler, Infallible, debug_println, memory_region_symbol, protection_domain};
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpCidr, Ipv4Address};

/// The channel to the net_driver PD.
const DRIVER: Channel = Channel::new(1);
/// The channel to the sequencer PD.
const SEQUENCER: Channel = Channel::new(2);
/// The alarm's interrupt (system.xml: irq 30).
const ALARM: Channel = Channel::new(3);
/// While a connection is open, the PD looks at least this often (idle timeouts).
const IDLE_CHECK_MS: u64 = 1_000;
/// Region sizes (system.xml).
const FRAME_QUEUE_SIZE: usize = 0x4_0000;
const SEQ_QUEUE_SIZE: usize = 0x200_0000;
/// The HTTP port.
const PORT: u16 = 80;
/// Connections served at once.
const MAX_CONNECTIONS: usize = 8;
/// Listening sockets: one more than are served, to answer `503` rather than drop.
const SOCKETS: usize = MAX_CONNECTIONS + 1;
/// Requests waiting for the sequencer: at most one per socket.
const IN_FLIGHT: usize = SOCKETS;
/// Request line and headers.
const MAX_HEAD: usize = 8 * 1024;
/// Request body: what one `net_to_seq` buffer holds after the command's verb.
const MAX_BODY: usize = 480 * 1024;
/// A connection that completes no request (or takes no response bytes) for this long is closed.
const IDLE_TIMEOUT_MS: u64 = 30_000;
/// Each TCP socket's buffers.
const SOCKET_BUFFER: usize = 64 * 1024;
/// The address from the image build (`make image NET_ADDRESS=`), default QEMU user networking's.
const ADDRESS: &str = match option_env!("LEDGERFS_NET_ADDRESS") {
    Some(a) => a,
    None => "10.0.2.15/24",
};
const GATEWAY: &str = match option_env!("LEDGERFS_NET_GATEWAY") {
    Some(g) => g,
    None => "10.0.2.2",
};
/// The token table (SHA-256 digests and roles) the image build wrote.
const TOKENS: &str = include_str!(env!("LEDGERFS_APPLIANCE_TOKENS"));

/// The network PD's heap: the `network_heap` region (system.xml), out of the loader image.
#[global_allocator]
static HEAP: ledgerfs_sel4_heap::RegionHeap = ledgerfs_sel4_heap::RegionHeap::new();
/// Its size (system.xml's `network_heap`): connection buffers and smoltcp's sockets.
const HEAP_SIZE: usize = 24 * 1024 * 1024;

#[protection_domain]
fn init() -> Network {
    ledgerfs_sel4_heap::install(&HEAP, memory_region_symbol!(network_heap: *mut u8).as_ptr(), HEAP_SIZE);
    // SAFETY: system.xml maps each queue region at its symbol into this PD and its one
    // peer (net_driver or the sequencer); we receive on net_rx and seq_to_net and send on
    // net_tx and net_to_seq.
    let (rx, tx, to_seq, from_seq) = unsafe {
        (
            MessageReceiver::attach(memory_region_symbol!(net_rx: *mut u8).as_ptr(), FRAME_QUEUE_SIZE),
            MessageSender::attach(memory_region_symbol!(net_tx: *mut u8).as_ptr(), FRAME_QUEUE_SIZE),
            MessageSender::attach(memory_region_symbol!(net_to_seq: *mut u8).as_ptr(), SEQ_QUEUE_SIZE),
            MessageReceiver::attach(memory_region_symbol!(seq_to_net: *mut u8).as_ptr(), SEQ_QUEUE_SIZE),
        )
    };
    let mut frames = Frames {
        rx: rx.expect("net_rx"),
        tx: tx.expect("net_tx"),
        buffer: RegionLayout::new(FRAME_QUEUE_SIZE)
            .expect("frame queue fits")
            .buffer_size,
        tx_dropped: 0,
        tx_blocked: false,
        sent: false,
        took: false,
    };
    let tokens = match Tokens::parse(TOKENS) {
        Ok(t) => t,
        Err(e) => {
            debug_println!("network: token table refused ({e}): every request but /health is 401");
            Tokens::default()
        }
    };
    let (cidr, gateway) = match (ADDRESS.parse::<IpCidr>(), GATEWAY.parse::<Ipv4Address>()) {
        (Ok(c), Ok(g)) => (c, g),
        _ => panic!("network: LEDGERFS_NET_ADDRESS / LEDGERFS_NET_GATEWAY do not parse"),
    };
    // A locally administered MAC; the driver's device answers whatever it is told.
    let mac = EthernetAddress([0x02, 0x4c, 0x65, 0x64, 0x67, 0x72]);
    let mut config = Config::new(HardwareAddress::Ethernet(mac));
    config.random_seed = counter();
    let mut iface = Interface::new(config, &mut frames, now());
    iface.update_ip_addrs(|addrs| {
        let _ = addrs.push(cidr);
    });
    let _ = iface.routes_mut().add_default_ipv4_route(gateway);
    let mut sockets = SocketSet::new(Vec::new());
    let mut conns = heapless::Vec::<Conn, SOCKETS>::new();
    for _ in 0..SOCKETS {
        let socket = tcp::Socket::new(
            tcp::SocketBuffer::new(alloc::vec![0; SOCKET_BUFFER]),
            tcp::SocketBuffer::new(alloc::vec![0; SOCKET_BUFFER]),
        );
        let handle = sockets.add(socket);
        let _ = conns.push(Conn::new(handle));
    }
    let seq_buffer = RegionLayout::new(SEQ_QUEUE_SIZE)
        .expect("sequencer queue fits")
        .buffer_size;
    debug_println!(
        "network: listening on {cidr} port {PORT} (gateway {gateway}; {MAX_CONNECTIONS} connections; {} tokens)",
        tokens.len()
    );
    let mut network = Network {
        iface,
        frames,
        sockets,
        conns,
        tokens,
        to_seq: to_seq.expect("net_to_seq"),
        from_seq: from_seq.expect("seq_to_net"),
        waiting: heapless::Deque::new(),
        reply: alloc::vec![0; seq_buffer],
        stats: Stats::default(),
        sent_cmd: false,
        took_reply: false,
    };
    network.pump();
    network
}

/// smoltcp's clock: the counter since reset.
fn now() -> Instant {
    Instant::from_micros((ticks_to_nanos(counter()) / 1000) as i64)
}

fn millis() -> u64 {
    ticks_to_nanos(counter()) / 1_000_000
}

/// What a connection is doing.
enum State {
    /// No connection on the socket (it listens).
    Listening,
    /// Reading a request.
    Reading,
    /// Its request is at the sequencer.
    Waiting,
    /// Writing a response; then read the next request, or close.
    Writing { keep: bool },
    /// Closed on our side; the slot is free once the peer's side is too.
    Closing,
}

/// One socket and its connection.
struct Conn {
    handle: SocketHandle,
    /// Counts connections on this socket, so a late reply finds no newer one.
    generation: u32,
    state: State,
    input: Vec<u8>,
    output: Vec<u8>,
    sent: usize,
    /// The request being answered.
    keep_alive: bool,
    head_only: bool,
    reply: Reply,
    last_progress_ms: u64,
}

impl Conn {
    fn new(handle: SocketHandle) -> Conn {
        Conn {
            handle,
            generation: 0,
            state: State::Listening,
            input: Vec::new(),
            output: Vec::new(),
            sent: 0,
            keep_alive: false,
            head_only: false,
            reply: Reply::Json,
            last_progress_ms: 0,
        }
    }

    fn respond(&mut self, response: &Response) {
        let keep = response.keeps(self.keep_alive);
        self.output = response.encode(keep, self.head_only);
        self.sent = 0;
        self.state = State::Writing { keep };
    }
}

/// The PD's own counters, on `/metrics`.
#[derive(Default)]
struct Stats {
    connections: u64,
    refused_busy: u64,
    requests: u64,
    timeouts: u64,
}

/// The network PD's state.
struct Network {
    iface: Interface,
    frames: Frames,
    sockets: SocketSet<'static>,
    conns: heapless::Vec<Conn, SOCKETS>,
    tokens: Tokens,
    to_seq: MessageSender<'static>,
    from_seq: MessageReceiver<'static>,
    /// Connections whose command is at the sequencer, in the order sent.
    waiting: heapless::Deque<(usize, u32), IN_FLIGHT>,
    reply: Vec<u8>,
    stats: Stats,
    /// A command was sent / a reply taken since the sequencer was last told.
    sent_cmd: bool,
    took_reply: bool,
}

impl Network {
    /// Runs TCP/IP and every connection until nothing moves, then sleeps with signals
    /// requested from the driver and the sequencer.
    fn pump(&mut self) {
        loop {
            // smoltcp's own result says "a socket may have changed" even when nothing
            // did: progress is what this PD moved (replies, request or response bytes).
            self.iface.poll(now(), &mut self.frames, &mut self.sockets);
            let mut progress = self.take_replies();
            progress |= self.serve();
            self.iface.poll(now(), &mut self.frames, &mut self.sockets);
            if progress {
                continue;
            }
            let seq_quiet = self.from_seq.request_signal() != Ok(false);
            if core::mem::take(&mut self.frames.tx_blocked) {
                // Waiting for a net_tx buffer: ask the driver to say when one comes back
                // (only then, or the two PDs would wake each other for nothing). Frames
                // in net_rx wait too (they may need an answer), so they do not keep this
                // PD spinning while the driver, not yet notified, cannot free a buffer.
                let tx_quiet = self.frames.tx.request_signal() != Ok(false);
                if tx_quiet && seq_quiet {
                    break;
                }
                continue;
            }
            let rx_quiet = self.frames.rx.request_signal() != Ok(false);
            if rx_quiet && seq_quiet {
                break;
            }
        }
        // A peer is notified only about what this PD did to its queue (see net_driver).
        let (sent, took) = (
            core::mem::take(&mut self.frames.sent),
            core::mem::take(&mut self.frames.took),
        );
        if (sent && self.frames.tx.needs_signal()) | (took && self.frames.rx.needs_signal()) {
            DRIVER.notify();
        }
        let (sent, took) = (
            core::mem::take(&mut self.sent_cmd),
            core::mem::take(&mut self.took_reply),
        );
        if (sent && self.to_seq.needs_signal()) | (took && self.from_seq.needs_signal()) {
            SEQUENCER.notify();
        }
        self.set_alarm();
    }

    /// Arms the alarm for smoltcp's next deadline, and within [`IDLE_CHECK_MS`] while a
    /// connection is open; disarms it when nothing is due.
    fn set_alarm(&mut self) {
        let now = now();
        let mut due_ms = self.iface.poll_delay(now, &self.sockets).map(|d| d.total_millis());
        if self.conns.iter().any(|c| !matches!(c.state, State::Listening)) {
            due_ms = Some(due_ms.map_or(IDLE_CHECK_MS, |d| d.min(IDLE_CHECK_MS)));
        }
        match due_ms {
            Some(ms) => timer::arm(counter().saturating_add(ms.max(1) * frequency() / 1000)),
            None => timer::disarm(),
        }
    }

    /// Turns each reply from the sequencer into its connection's response.
    fn take_replies(&mut self) -> bool {
        let mut any = false;
        loop {
            let (len, tag) = match self.from_seq.recv(&mut self.reply) {
                Ok(m) => m,
                Err(RingError::Empty) => return any,
                Err(e) => {
                    debug_println!("network: seq_to_net stopped: {e}");
                    return any;
                }
            };
            any = true;
            self.took_reply = true;
            let Some((slot, generation)) = self.waiting.pop_front() else {
                debug_println!("network: a reply nobody asked for; dropped");
                continue;
            };
            let metrics = self.metrics();
            let conn = &mut self.conns[slot];
            if conn.generation != generation || !matches!(conn.state, State::Waiting) {
                continue;
            }
            let response = respond(conn.reply, tag, &self.reply[..len], &metrics);
            conn.respond(&response);
            conn.last_progress_ms = millis();
        }
    }

    /// The PD's own Prometheus lines.
    fn metrics(&self) -> String {
        let open = self
            .conns
            .iter()
            .filter(|c| !matches!(c.state, State::Listening))
            .count();
        let mut text = String::new();
        for (name, help, kind, value) in [
            (
                "ledgerfs_net_connections_open",
                "Connections open now.",
                "gauge",
                open as u64,
            ),
            (
                "ledgerfs_net_connections_total",
                "Connections accepted.",
                "counter",
                self.stats.connections,
            ),
            (
                "ledgerfs_net_refused_total",
                "Connections answered 503 (too many at once).",
                "counter",
                self.stats.refused_busy,
            ),
            (
                "ledgerfs_net_requests_total",
                "Requests framed.",
                "counter",
                self.stats.requests,
            ),
            (
                "ledgerfs_net_timeouts_total",
                "Connections closed for idling.",
                "counter",
                self.stats.timeouts,
            ),
            (
                "ledgerfs_net_frames_dropped_total",
                "Frames net_tx refused (0 unless the driver is gone).",
                "counter",
                self.frames.tx_dropped,
            ),
        ] {
            let _ = write!(text, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n");
        }
        text
    }

    /// Moves every connection on as far as it goes; true if any did.
    fn serve(&mut self) -> bool {
        let mut progress = false;
        let now_ms = millis();
        let busy = self
            .conns
            .iter()
            .filter(|c| !matches!(c.state, State::Listening))
            .count();
        let mut open = busy;
        for slot in 0..self.conns.len() {
            let handle = self.conns[slot].handle;
            let socket = self.sockets.get_mut::<tcp::Socket>(handle);
            let conn = &mut self.conns[slot];
            if matches!(conn.state, State::Listening) {
                if socket.state() == tcp::State::TimeWait {
                    // The peer closed after us: do not hold the slot for TIME-WAIT.
                    socket.abort();
                }
                if !socket.is_open() {
                    socket.set_nagle_enabled(false);
                    socket.set_ack_delay(None);
                    let _ = socket.listen(PORT);
                }
                if !socket.is_active() {
                    continue;
                }
                conn.generation = conn.generation.wrapping_add(1);
                conn.input.clear();
                conn.keep_alive = true;
                conn.head_only = false;
                conn.last_progress_ms = now_ms;
                self.stats.connections += 1;
                progress = true;
                open += 1;
                if open > MAX_CONNECTIONS {
                    self.stats.refused_busy += 1;
                    conn.keep_alive = false;
                    conn.respond(&Response::error(
                        503,
                        "too_many_connections",
                        "the appliance serves 8 connections at once: retry",
                    ));
                } else {
                    conn.state = State::Reading;
                }
            }
            // The peer went away (or reset), or the connection idled: free the slot.
            let idle = now_ms.saturating_sub(conn.last_progress_ms) > IDLE_TIMEOUT_MS;
            let idled = idle && !matches!(conn.state, State::Waiting);
            if !socket.is_active() || idled {
                self.stats.timeouts += u64::from(idled && socket.is_active());
                socket.abort();
                conn.state = State::Listening;
                conn.input = Vec::new();
                conn.output = Vec::new();
                progress = true;
                open -= 1;
                continue;
            }
            if matches!(conn.state, State::Reading) {
                while socket.can_recv() && conn.input.len() < MAX_HEAD + MAX_BODY {
                    let room = (MAX_HEAD + MAX_BODY - conn.input.len()).min(16 * 1024);
                    let start = conn.input.len();
                    conn.input.resize(start + room, 0);
                    let n = socket.recv_slice(&mut conn.input[start..]).unwrap_or(0);
                    conn.input.truncate(start + n);
                    if n == 0 {
                        break;
                    }
                    progress = true;
                }
                match parse(
                    &conn.input,
                    &Limits {
                        max_head: MAX_HEAD,
                        max_body: MAX_BODY,
                    },
                ) {
                    Parsed::Partial => {
                        // Not `!may_recv()`: that is also true before the handshake ends.
                        if matches!(socket.state(), tcp::State::CloseWait | tcp::State::LastAck) {
                            // The peer closed its side (between requests, or mid-request).
                            socket.close();
                            conn.state = State::Closing;
                            progress = true;
                        }
                    }
                    Parsed::Invalid(response) => {
                        self.stats.requests += 1;
                        conn.keep_alive = false;
                        conn.head_only = false;
                        conn.respond(&response);
                        progress = true;
                    }
                    Parsed::Complete { request, consumed } => {
                        self.stats.requests += 1;
                        conn.input.drain(..consumed);
                        conn.keep_alive = request.keep_alive;
                        conn.head_only = request.head_only;
                        conn.last_progress_ms = now_ms;
                        progress = true;
                        match route(&request, &self.tokens) {
                            Route::Respond(response) => conn.respond(&response),
                            Route::Command { line, reply } => {
                                conn.reply = reply;
                                match self.to_seq.send(&line, 0) {
                                    Ok(()) => {
                                        self.sent_cmd = true;
                                        conn.state = State::Waiting;
                                        let _ = self.waiting.push_back((slot, conn.generation));
                                    }
                                    Err(RingError::Full) => conn.respond(&Response::error(
                                        503,
                                        "busy",
                                        "the ledger's command queue is full: retry",
                                    )),
                                    Err(RingError::TooLong) => conn.respond(&Response::error(
                                        413,
                                        "request_too_large",
                                        "the request does not fit the ledger's command queue",
                                    )),
                                    Err(e) => {
                                        debug_println!("network: net_to_seq stopped: {e}");
                                        conn.respond(&Response::error(
                                            503,
                                            "storage_unavailable",
                                            "the ledger is gone",
                                        ));
                                    }
                                }
                            }
                        }
                    }
                }
            }
            if let State::Writing { keep } = conn.state {
                while conn.sent < conn.output.len() && socket.can_send() {
                    match socket.send_slice(&conn.output[conn.sent..]) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            conn.sent += n;
                            conn.last_progress_ms = now_ms;
                            progress = true;
                        }
                    }
                }
                if conn.sent == conn.output.len() {
                    conn.output = Vec::new();
                    conn.sent = 0;
                    progress = true;
                    if keep {
                        conn.state = State::Reading;
                    } else {
                        socket.close();
                        conn.state = State::Closing;
                        conn.input = Vec::new();
                    }
                }
            }
        }
        progress
    }
}

impl Handler for Network {
    type Error = Infallible;

    fn notified(&mut self, channels: ChannelSet) -> Result<(), Self::Error> {
        if channels.contains(ALARM) {
            timer::disarm();
            ALARM.irq_ack().expect("alarm irq ack");
        }
        self.pump();
        Ok(())
    }
}
