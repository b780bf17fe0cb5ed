//! The `ledgerfs` command: init, serve, key, verify, client commands for a running
//! daemon, and the appliance's tools (export its disk image, talk to its console).
//! Exit status 0 on success, 1 on any error (printed with its stable code).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde_json::{json, Value};

use ledgerfs_hosted::appliance::{console as appliance, image};
use ledgerfs_hosted::cli::client::{segment, Client};
use ledgerfs_hosted::cli::verify;
use ledgerfs_hosted::config::{Config, Role, TokenConfig};
use ledgerfs_hosted::error::{Error, Result};
use ledgerfs_hosted::recon::pack;
use ledgerfs_hosted::serve;
use ledgerfs_hosted::storage::ledger;

#[derive(Parser)]
#[command(
    name = "ledgerfs",
    version,
    about = "LedgerFS: a verifiable, append-only ledger stored as C2SP tlog-tiles"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct DataArg {
    /// Data directory (holds ledgerfs.toml, the key and log/).
    #[arg(long, env = "LEDGERFS_DATA", default_value = "./ledgerfs-data")]
    data: PathBuf,
}

#[derive(Args, Clone)]
struct ClientArgs {
    /// Daemon URL.
    #[arg(long, env = "LEDGERFS_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Bearer token (default: the admin token in the data directory).
    #[arg(long, env = "LEDGERFS_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Data directory whose admin.token to use when no token is given.
    #[arg(long, env = "LEDGERFS_DATA", default_value = "./ledgerfs-data")]
    data: PathBuf,
}

impl ClientArgs {
    fn client(&self) -> Result<Client> {
        let token = match &self.token {
            Some(token) => token.clone(),
            None => {
                let path = self.data.join(ledger::ADMIN_TOKEN_FILE);
                std::fs::read_to_string(&path)
                    .map_err(|e| Error::Client(format!("no --token and cannot read {}: {e}", path.display())))?
                    .trim()
                    .to_string()
            }
        };
        Ok(Client::new(&self.url, token))
    }
}

#[derive(Subcommand)]
enum Command {
    /// Create a new store: key pair, admin token, config, empty signed log.
    Init {
        #[command(flatten)]
        data: DataArg,
        /// Checkpoint origin (also the key name); default ledgerfs.localhost/<random>.
        #[arg(long)]
        origin: Option<String>,
    },
    /// Run the daemon (HTTP API on 127.0.0.1:8080 by default), optionally with the FUSE view.
    Serve {
        #[command(flatten)]
        data: DataArg,
        /// Listen address (overrides the config and LEDGERFS_LISTEN).
        #[arg(long)]
        listen: Option<String>,
        /// Also mount the ledger read-only here (unmounted on Ctrl-C / SIGTERM).
        #[arg(long, env = "LEDGERFS_MOUNT")]
        mount: Option<PathBuf>,
        /// A C2SP tlog-policy: publish checkpoints once its witnesses meet its quorum
        /// (overrides the config's `policy`).
        #[arg(long)]
        policy: Option<PathBuf>,
    },
    /// Mount the ledger read-only at MOUNTPOINT without serving HTTP.
    Mount {
        /// Where to mount.
        mountpoint: PathBuf,
        #[command(flatten)]
        data: DataArg,
    },
    /// Write a resolution pack (CASS 15): the log, the verifier key, every balance with its
    /// inclusion proof as of INDEX, safeguarding figures and the break log, checked after
    /// writing; `ledgerfs verify --dir PACK` checks it offline.
    ResolutionPack {
        #[command(flatten)]
        data: DataArg,
        /// A new or empty directory.
        #[arg(long)]
        out: PathBuf,
        /// Balances as of this log index (default: the checkpoint's last entry).
        #[arg(long)]
        at: Option<u64>,
    },
    /// A C2SP tlog-witness: cosigns checkpoints of the logs it is configured for.
    #[command(subcommand)]
    Witness(WitnessCommand),
    /// Print the verifier key (`--ml-dsa`: the ML-DSA-44 one, for `ml_dsa_44 = true`).
    Key {
        #[command(flatten)]
        data: DataArg,
        /// The ML-DSA-44 verifier key derived from the same secret.
        #[arg(long)]
        ml_dsa: bool,
    },
    /// Open and fully check a store without serving it.
    Check {
        #[command(flatten)]
        data: DataArg,
    },
    /// Verify a log offline: signature, every tile, every entry, older checkpoints
    /// (`ledgerfs verify receipt FILE`: one tlog-proof receipt, without the log;
    /// `ledgerfs verify balance FILE`: one balance proof).
    #[command(args_conflicts_with_subcommands = true)]
    Verify {
        #[command(subcommand)]
        what: Option<VerifyWhat>,
        /// A data or log directory.
        #[arg(long, conflicts_with = "url")]
        dir: Option<PathBuf>,
        /// A server publishing /log/.
        #[arg(long)]
        url: Option<String>,
        /// Verifier key string (default: DIR/log.vkey when --dir is a data directory).
        #[arg(long)]
        vkey: Option<String>,
        /// Bearer token for --url servers that require one.
        #[arg(long, env = "LEDGERFS_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// An earlier signed checkpoint to check consistency with (repeatable).
        #[arg(long = "older")]
        older: Vec<PathBuf>,
        /// Also check every snapshot in DIR/snapshots against a replay of the log.
        #[arg(long, requires = "dir")]
        snapshots: bool,
        /// A C2SP tlog-policy: `--witnessed FILE` must meet its quorum of cosignatures.
        #[arg(long, requires = "witnessed")]
        policy: Option<PathBuf>,
        /// A cosigned checkpoint (from `ledgerfs witness collect`): checked against the
        /// policy and for consistency with the verified log.
        #[arg(long, requires = "policy")]
        witnessed: Option<PathBuf>,
    },
    /// Accounts.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Import accounts and transfers (JSON lines or CSV) through the API, in batches,
    /// with a progress line; a rerun resumes (ids make it idempotent).
    Import {
        #[command(flatten)]
        client: ClientArgs,
        /// The file: JSON lines (one object per line with "type":"account"|"transfer"), or
        /// CSV with a header row (a .csv file, or --format csv).
        file: PathBuf,
        /// jsonl or csv (default: from the file name).
        #[arg(long)]
        format: Option<String>,
        /// Events per request (consecutive lines of one type).
        #[arg(long, default_value_t = 1000)]
        batch: usize,
        /// Mark every event imported: it keeps its "time" (strictly increasing, not in the
        /// future, after the log's last entry).
        #[arg(long)]
        imported: bool,
    },
    /// Post a transfer.
    Transfer {
        #[command(flatten)]
        client: ClientArgs,
        #[command(flatten)]
        transfer: TransferSpec,
        /// Ask for inclusion proofs in the receipt.
        #[arg(long)]
        receipt: bool,
    },
    /// An account's balance, now or at a log index / RFC 3339 time.
    Balance {
        #[command(flatten)]
        client: ClientArgs,
        account: String,
        #[arg(long)]
        at: Option<String>,
    },
    /// An account's postings, oldest first.
    History {
        #[command(flatten)]
        client: ClientArgs,
        account: String,
        #[arg(long)]
        after: Option<u64>,
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// An account's transfers, filtered and paged both ways, each with the balance after it.
    Transfers {
        #[command(flatten)]
        client: ClientArgs,
        account: String,
        #[command(flatten)]
        query: StatementArgs,
    },
    /// An account's balance history: the balance after each of its postings.
    Balances {
        #[command(flatten)]
        client: ClientArgs,
        account: String,
        #[command(flatten)]
        query: StatementArgs,
    },
    /// Inclusion and consistency proofs.
    #[command(subcommand)]
    Proof(ProofCommand),
    /// Safeguarding reconciliation: a bank statement (`--statement FILE --account ID
    /// --date YYYY-MM-DD`, camt.053 XML or CSV) or the internal one (`--internal`),
    /// recorded in the break log. Exits 2 when it found breaks.
    #[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
    Recon {
        #[command(flatten)]
        client: ClientArgs,
        /// The bank's statement for the safeguarding account.
        #[arg(long, requires_all = ["account", "date"], required_unless_present = "internal")]
        statement: Option<PathBuf>,
        /// The safeguarding account the statement is for.
        #[arg(long)]
        account: Option<String>,
        /// The business day (UTC): the statement's, or the internal cut-off's end.
        #[arg(long)]
        date: Option<String>,
        /// Customer balances against safeguarding balances, per currency.
        #[arg(long, conflicts_with_all = ["statement", "account"])]
        internal: bool,
        /// Internal cut-off at a log index or RFC 3339 time instead of a day's end.
        #[arg(long, requires = "internal", conflicts_with = "date")]
        at: Option<String>,
        #[command(subcommand)]
        action: Option<ReconAction>,
    },
    /// Bearer tokens in DIR/ledgerfs.toml (a running daemon picks changes up within a second).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Appliance disk images.
    #[command(subcommand)]
    Image(ImageCommand),
    /// Send one command to a running appliance over its serial console and print the reply.
    Appliance(ApplianceArgs),
}

/// One account to open: the fields of the API's account object, shared by the daemon
/// client (`account create`) and the appliance console (`appliance account create`).
#[derive(Args, Clone)]
struct AccountSpec {
    id: String,
    #[arg(long)]
    currency: String,
    #[arg(long, default_value = "customer")]
    kind: String,
    /// debits_must_not_exceed_credits or credits_must_not_exceed_debits (repeatable).
    #[arg(long = "flag")]
    flags: Vec<String>,
}

impl AccountSpec {
    /// The API's request body for this account.
    fn json(&self) -> Value {
        json!({"id": self.id, "currency": self.currency, "kind": self.kind, "flags": self.flags})
    }
}

/// One transfer to post: the fields of the API's transfer object, shared by the daemon
/// client (`transfer`) and the appliance console (`appliance transfer`).
#[derive(Args, Clone)]
struct TransferSpec {
    #[arg(long)]
    id: String,
    #[arg(long)]
    debit: String,
    #[arg(long)]
    credit: String,
    /// Decimal amount, e.g. 10.50.
    #[arg(long)]
    amount: String,
    #[arg(long)]
    currency: String,
    #[arg(long, default_value = "")]
    reference: String,
}

impl TransferSpec {
    /// The API's request body for this transfer.
    fn json(&self) -> Value {
        json!({"id": self.id, "debit": self.debit, "credit": self.credit, "amount": self.amount, "currency": self.currency, "reference": self.reference})
    }
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Make a token: prints it once; the config stores only its SHA-256 digest.
    Add {
        #[command(flatten)]
        data: DataArg,
        /// Who holds it (unique; shown in audit records).
        #[arg(long)]
        name: String,
        /// admin, operator, auditor, regulator or customer.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// An account a customer owns (repeatable; at least one for a customer).
        #[arg(long = "account")]
        accounts: Vec<String>,
        /// A local user who acts with this role in the FUSE mount (repeatable).
        #[arg(long = "uid")]
        uids: Vec<u32>,
    },
    /// List the tokens: names, roles, accounts and uids (never digests).
    List {
        #[command(flatten)]
        data: DataArg,
    },
    /// Remove a token; requests with it are refused (401) within a second.
    Revoke {
        #[command(flatten)]
        data: DataArg,
        /// The token's name.
        #[arg(long)]
        name: String,
    },
}

fn parse_role(text: &str) -> std::result::Result<Role, String> {
    [
        Role::Admin,
        Role::Operator,
        Role::Auditor,
        Role::Regulator,
        Role::Customer,
    ]
    .into_iter()
    .find(|r| r.as_str() == text)
    .ok_or_else(|| "one of admin, operator, auditor, regulator, customer".to_string())
}

#[derive(Subcommand)]
enum ImageCommand {
    /// Export an appliance disk image (raw, 4096-byte blocks) as a tlog-tiles directory
    /// that `ledgerfs verify --dir` accepts. Reads the image only.
    Export {
        /// The disk image file (e.g. build/disk.img).
        disk: PathBuf,
        /// Output directory: created if missing, refused unless empty.
        #[arg(long)]
        out: PathBuf,
        /// Verifier key (a file such as build/attest.vkey, or the key string): checked
        /// against the disk's checkpoint and written as OUT/log.vkey, where `verify --dir`
        /// looks for it.
        #[arg(long)]
        vkey: Option<String>,
    },
}

/// Where the appliance's console is and how to talk to it.
#[derive(Args)]
struct ApplianceArgs {
    /// The console's unix socket (QEMU -serial unix:SOCKET,server=on,wait=off).
    #[arg(long, env = "LEDGERFS_SERIAL", global = true)]
    serial: Option<PathBuf>,
    /// Seconds to wait for the reply.
    #[arg(long, default_value = "30", value_parser = parse_seconds, global = true)]
    timeout: Duration,
    /// Print the console's other lines (echo, boot and debug messages) to stderr.
    #[arg(long, short, global = true)]
    verbose: bool,
    /// Print the reply line exactly as received instead of pretty JSON (or note text).
    #[arg(long, global = true)]
    raw: bool,
    #[command(subcommand)]
    command: ApplianceCommand,
}

#[derive(Subcommand)]
enum ApplianceCommand {
    /// Open accounts: the API's account object or array (`-` reads it from stdin).
    Accounts { json: String },
    /// Post transfers: the API's transfer object or array (`-` reads it from stdin).
    Transfers { json: String },
    /// An account's balance.
    Balance { id: String },
    /// The signed checkpoint (printed as the note text).
    Checkpoint,
    /// Sequence N generated transfers end to end and report the rate.
    Bench { n: u64 },
    /// Log size and readiness.
    Status,
    /// Any console line, sent as is.
    Raw {
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        line: Vec<String>,
    },
    /// Accounts, built from flags like `ledgerfs account create`.
    #[command(subcommand)]
    Account(ApplianceAccountCommand),
    /// Post one transfer built from flags like `ledgerfs transfer`.
    Transfer(TransferSpec),
}

#[derive(Subcommand)]
enum ApplianceAccountCommand {
    /// Open an account.
    Create(AccountSpec),
}

fn parse_seconds(text: &str) -> std::result::Result<Duration, String> {
    let seconds: f64 = text.parse().map_err(|e| format!("{e}"))?;
    Duration::try_from_secs_f64(seconds)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| "a positive number of seconds".to_string())
}

#[derive(Subcommand)]
enum AccountCommand {
    /// Open an account.
    Create {
        #[command(flatten)]
        client: ClientArgs,
        #[command(flatten)]
        account: AccountSpec,
    },
    /// Show an account and its balance.
    Show {
        #[command(flatten)]
        client: ClientArgs,
        id: String,
    },
    /// List accounts in opening order, filtered by kind, currency and metadata.
    List {
        #[command(flatten)]
        client: ClientArgs,
        #[arg(long)]
        kind: Option<String>,
        #[arg(long)]
        currency: Option<String>,
        /// Accounts whose metadata has this key.
        #[arg(long)]
        metadata_key: Option<String>,
        /// ... with this value (a string exactly, another value as JSON; without a key, under any key).
        #[arg(long)]
        metadata_value: Option<String>,
        /// The page after this account id.
        #[arg(long)]
        after: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
}

/// The filters and cursor of `transfers` and `balances` (the API's query parameters).
#[derive(clap::Args)]
struct StatementArgs {
    /// Committed at or after this RFC 3339 UTC time.
    #[arg(long)]
    from: Option<String>,
    /// Committed before this RFC 3339 UTC time.
    #[arg(long)]
    to: Option<String>,
    /// Exactly this reference.
    #[arg(long)]
    reference: Option<String>,
    /// posted, pending, post_pending, void_pending, expire_pending (comma-separated).
    #[arg(long)]
    phase: Option<String>,
    /// debit or credit.
    #[arg(long)]
    direction: Option<String>,
    /// The page after this log index (the reply's next_after).
    #[arg(long)]
    after: Option<u64>,
    /// The page before this log index (the reply's next_before); with --after, between both.
    #[arg(long)]
    before: Option<u64>,
    #[arg(long, default_value_t = 100)]
    limit: usize,
}

impl StatementArgs {
    /// The query string, percent-encoded.
    fn query(&self) -> String {
        let mut q = format!("limit={}", self.limit);
        let texts = [
            ("from", &self.from),
            ("to", &self.to),
            ("reference", &self.reference),
            ("phase", &self.phase),
            ("direction", &self.direction),
        ];
        for (name, value) in texts {
            if let Some(value) = value {
                q.push_str(&format!("&{name}={}", segment(value)));
            }
        }
        if let Some(after) = self.after {
            q.push_str(&format!("&after={after}"));
        }
        if let Some(before) = self.before {
            q.push_str(&format!("&before={before}"));
        }
        q
    }
}

#[derive(Subcommand)]
enum WitnessCommand {
    /// Make a witness: its cosigner key (WDIR/witness.key, 0600), its verifier key
    /// (printed, and in WDIR/witness.vkey) and the logs it witnesses.
    Init {
        /// The witness's directory.
        #[arg(long)]
        data: PathBuf,
        /// The witness's name (a schema-less URL, e.g. witness.example.org/w1).
        #[arg(long)]
        name: String,
        /// A log's verifier key (its name is the log's origin); repeat for more logs.
        #[arg(long = "log", required = true)]
        logs: Vec<String>,
    },
    /// The log side, run next to a log (the daemon, or the appliance's host): submit the
    /// log's current checkpoint to every witness of a C2SP tlog-policy (with the consistency
    /// proof from what each cosigned last) and print the checkpoint with the cosignatures
    /// collected. Exits 2 when they do not meet the quorum.
    Collect {
        #[command(flatten)]
        client: ClientArgs,
        /// The policy: its `witness` lines carry the submission prefixes.
        #[arg(long)]
        policy: PathBuf,
        /// Write the cosigned checkpoint here too.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Serve POST /add-checkpoint (submission prefix http://ADDR/) and the monitoring
    /// endpoints GET /checkpoint?origin=O and GET /checkpoints.
    Serve {
        #[arg(long)]
        data: PathBuf,
        #[arg(long, default_value = "127.0.0.1:8090")]
        listen: String,
    },
}

#[derive(Subcommand)]
enum VerifyWhat {
    /// A C2SP tlog-proof receipt (`.tlog-proof`, from `?receipt=tlog-proof`), offline:
    /// the entry's inclusion under the receipt's checkpoint, the log's signature
    /// (`--vkey`) and the witnesses' quorum (`--policy`).
    Receipt {
        /// The receipt file.
        file: PathBuf,
        /// The log's verifier key (the policy's `log` line serves too).
        #[arg(long)]
        vkey: Option<String>,
        /// A C2SP tlog-policy whose quorum the checkpoint's cosignatures must meet.
        #[arg(long)]
        policy: Option<PathBuf>,
        /// The entry's bytes (default: the copy in the receipt's `extra` line).
        #[arg(long)]
        entry: Option<PathBuf>,
    },
    /// A balance proof (from `GET /v1/accounts/{id}/balance-proof`, or a FUSE
    /// `balance.json`), offline: the account's balance record (or its absence) in a
    /// balance commitment entry, and that entry's inclusion under a checkpoint signed by
    /// the log (`--vkey`) and cosigned by the policy's quorum (`--policy`).
    Balance {
        /// The proof file.
        file: PathBuf,
        /// The log's verifier key (the policy's `log` line serves too).
        #[arg(long)]
        vkey: Option<String>,
        /// A C2SP tlog-policy whose quorum the checkpoint's cosignatures must meet.
        #[arg(long)]
        policy: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ReconAction {
    /// The breaks still open (with `--all`: every break, and its resolution).
    Breaks {
        #[command(flatten)]
        client: ClientArgs,
        #[arg(long)]
        all: bool,
    },
    /// Resolves break ID (its index in the break log), recorded with who and why.
    Resolve {
        #[command(flatten)]
        client: ClientArgs,
        id: u64,
        /// Why it is resolved (required).
        #[arg(long)]
        reason: String,
        /// The correcting transfer's log index, if one was posted.
        #[arg(long)]
        transfer_index: Option<u64>,
    },
}

#[derive(Subcommand)]
enum ProofCommand {
    /// Inclusion proof of entry INDEX in the tree of SIZE (default: current).
    Inclusion {
        #[command(flatten)]
        client: ClientArgs,
        index: u64,
        #[arg(long)]
        size: Option<u64>,
    },
    /// Consistency proof between two tree sizes.
    Consistency {
        #[command(flatten)]
        client: ClientArgs,
        from: u64,
        to: Option<u64>,
    },
}

fn print(value: &Value) {
    println!("{}", serde_json::to_string_pretty(value).expect("JSON prints"));
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Init { data, origin } => {
            let made = ledger::init(&data.data, origin)?;
            println!("initialised {} (origin {})", data.data.display(), made.origin);
            println!("verifier key: {}", made.vkey);
            println!("admin token:  {} (mode 0600)", made.admin_token_path.display());
        }
        Command::Serve {
            data,
            listen,
            mount,
            policy,
        } => serve::serve(
            &data.data,
            serve::ServeOptions {
                listen,
                mount,
                http: true,
                policy,
            },
        )?,
        Command::Mount { mountpoint, data } => serve::serve(
            &data.data,
            serve::ServeOptions {
                listen: None,
                mount: Some(mountpoint),
                http: false,
                policy: None,
            },
        )?,
        Command::Key { data, ml_dsa: false } => println!("{}", ledger::read_vkey(&data.data)?.encode()),
        Command::Key { data, ml_dsa: true } => {
            println!("{}", ledger::read_signer_key(&data.data)?.ml_dsa_verifier().encode())
        }
        Command::Witness(WitnessCommand::Init { data, name, logs }) => {
            println!("{}", ledgerfs_hosted::witness::init(&data, &name, &logs)?);
        }
        Command::Witness(WitnessCommand::Serve { data, listen }) => ledgerfs_hosted::witness::serve(&data, &listen)?,
        Command::Witness(WitnessCommand::Collect { client, policy, out }) => {
            let text = std::fs::read_to_string(&policy).map_err(|e| Error::io(&policy, e))?;
            let policy = ledgerfs_witness::Policy::parse(&text).map_err(Error::Config)?;
            let (note, verdict) = ledgerfs_hosted::witness::collect(&client.client()?, &policy)?;
            if let Some(out) = out {
                std::fs::write(&out, &note).map_err(|e| Error::io(&out, e))?;
            }
            print!("{note}");
            eprintln!(
                "ledgerfs witness collect: size {} cosigned by {:?}; quorum {}",
                verdict.checkpoint.size,
                verdict.cosigned_by,
                if verdict.quorum_met { "met" } else { "NOT met" }
            );
            if !verdict.quorum_met {
                std::process::exit(2);
            }
        }
        Command::ResolutionPack { data, out, at } => {
            let (size, at) = pack::write_pack(&data.data, &out, at)?;
            println!(
                "resolution pack written to {} (checkpoint size {size}, balances as of index {at}) and checked; \
                 verify it anywhere with: ledgerfs verify --dir {}",
                out.display(),
                out.display()
            );
        }
        Command::Check { data } => {
            let opened = serve::open_with_progress(&data.data, ledger::Start::FullReplay)?;
            println!(
                "ok: size {} with {} accounts",
                opened.committed.size,
                opened.view.accounts.len()
            );
        }
        Command::Verify {
            what:
                Some(VerifyWhat::Receipt {
                    file,
                    vkey,
                    policy,
                    entry,
                }),
            ..
        } => {
            let text = std::fs::read_to_string(&file).map_err(|e| Error::io(&file, e))?;
            let entry = entry
                .map(|p| std::fs::read(&p).map_err(|e| Error::io(&p, e)))
                .transpose()?;
            let (vkey, policy) = signers(vkey, policy)?;
            let checked =
                ledgerfs_hosted::cli::receipt::verify_receipt(&text, entry.as_deref(), vkey.as_ref(), policy.as_ref())?;
            println!(
                "verified receipt: entry {} ({}) is in the log under its checkpoint of size {}{}",
                checked.index,
                checked.what,
                checked.size,
                witnesses(&checked, policy.is_some())
            );
        }
        Command::Verify {
            what: Some(VerifyWhat::Balance { file, vkey, policy }),
            ..
        } => {
            let text = std::fs::read_to_string(&file).map_err(|e| Error::io(&file, e))?;
            let (vkey, policy) = signers(vkey, policy)?;
            let checked = ledgerfs_hosted::cli::receipt::verify_balance(&text, vkey.as_ref(), policy.as_ref())?;
            let what = match &checked.record {
                Some(record) => format!("account {:?} has {record}", checked.account),
                None => format!("no account has id {:?}", checked.account),
            };
            println!(
                "verified balance: {what}, as of log size {} (balance commitment entry {} of {} accounts), under a checkpoint of size {}{}",
                checked.proven.index,
                checked.proven.index,
                checked.proven.commitment.accounts,
                checked.receipt.size,
                witnesses(&checked.receipt, policy.is_some())
            );
        }
        Command::Verify {
            what: None,
            dir,
            url,
            vkey,
            token,
            older,
            snapshots,
            policy,
            witnessed,
        } => {
            let data_dir = dir.clone();
            let vkey_text = match (&vkey, &dir) {
                (Some(k), _) => k.clone(),
                (None, Some(d)) => ledger::read_vkey(d)
                    .map(|k| k.encode())
                    .map_err(|_| Error::Client("pass --vkey (no log.vkey in that directory)".into()))?,
                (None, None) => return Err(Error::Client("pass --vkey with --url".into())),
            };
            let key =
                ledgerfs_attest::VerifierKey::parse(&vkey_text).map_err(|e| Error::Client(format!("--vkey: {e}")))?;
            let source = match (dir, url) {
                (Some(d), _) => verify::Source::Dir(d),
                (None, Some(base)) => verify::Source::Url { base, token },
                (None, None) => return Err(Error::Client("pass --dir DIR or --url URL".into())),
            };
            let mut older = older
                .iter()
                .map(|p| std::fs::read(p).map_err(|e| Error::io(p, e)))
                .collect::<Result<Vec<_>>>()?;
            // A witnessed checkpoint must meet the policy's quorum and be consistent with
            // the log (it is checked as one more older checkpoint).
            let verdict = match (&policy, &witnessed) {
                (Some(p), Some(w)) => {
                    let text = std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?;
                    let policy = ledgerfs_witness::Policy::parse(&text).map_err(Error::Config)?;
                    let note = std::fs::read(w).map_err(|e| Error::io(w, e))?;
                    let verdict = policy.check(&note).map_err(Error::Client)?;
                    if !verdict.quorum_met {
                        return Err(Error::Client(format!(
                            "{}: cosigned by {:?}, which does not meet the policy's quorum",
                            w.display(),
                            verdict.cosigned_by
                        )));
                    }
                    older.push(note);
                    Some(verdict)
                }
                _ => None,
            };
            let report = verify::verify(source, &key, &older, true)?;
            if let Some(v) = verdict {
                println!(
                    "witnessed: size {} cosigned by {} ({}), quorum met, consistent with the log",
                    v.checkpoint.size,
                    v.cosigned_by.len(),
                    v.cosigned_by.join(", ")
                );
            }
            println!(
                "verified: size {} root {} ({} accounts, money conserved, {} older checkpoint(s) consistent)",
                report.size, report.root, report.accounts, report.older_checkpoints
            );
            // A resolution pack: its balances re-derived, its break log checked.
            if let Some(pack) = data_dir.as_ref().filter(|d| d.join(pack::BALANCES_FILE).exists()) {
                let accounts = pack::verify_pack(pack, &key)?;
                println!("resolution pack: {accounts} balances equal to a replay of the log, every proof leads to the signed root");
                let recon = pack.join(ledgerfs_hosted::recon::breaklog::RECON_DIR);
                if recon.join("log").join("checkpoint").exists() {
                    let r = verify::verify(verify::Source::Dir(recon), &key, &[], false)?;
                    println!("break log: verified, size {} root {}", r.size, r.root);
                }
            }
            if snapshots {
                let data = data_dir.expect("--snapshots requires --dir");
                let checked = ledgerfs_hosted::storage::snapshot::check_all(&data, &key)?;
                println!("snapshots: {checked} checked, each equal to a replay of the log");
            }
        }
        Command::Account(AccountCommand::Create { client, account }) => {
            print(&client.client()?.post("/v1/accounts", &account.json())?);
        }
        Command::Account(AccountCommand::Show { client, id }) => {
            print(&client.client()?.get(&format!("/v1/accounts/{}", segment(&id)))?);
        }
        Command::Account(AccountCommand::List {
            client,
            kind,
            currency,
            metadata_key,
            metadata_value,
            after,
            limit,
        }) => {
            let mut path = format!("/v1/accounts?limit={limit}");
            let texts = [
                ("kind", kind),
                ("currency", currency),
                ("metadata_key", metadata_key),
                ("metadata_value", metadata_value),
                ("after", after),
            ];
            for (name, value) in texts {
                if let Some(value) = value {
                    path.push_str(&format!("&{name}={}", segment(&value)));
                }
            }
            print(&client.client()?.get(&path)?);
        }
        Command::Transfers { client, account, query } => {
            let path = format!("/v1/accounts/{}/transfers?{}", segment(&account), query.query());
            print(&client.client()?.get(&path)?);
        }
        Command::Balances { client, account, query } => {
            let path = format!("/v1/accounts/{}/balances?{}", segment(&account), query.query());
            print(&client.client()?.get(&path)?);
        }
        Command::Import {
            client,
            file,
            format,
            batch,
            imported,
        } => {
            use ledgerfs_hosted::cli::import::{self, Format};
            let format = match format.as_deref() {
                None => Format::of(&file),
                Some("jsonl" | "json") => Format::JsonLines,
                Some("csv") => Format::Csv,
                Some(other) => return Err(Error::Client(format!("--format {other}: jsonl or csv"))),
            };
            if batch == 0 || batch > 8189 {
                return Err(Error::Client("--batch is 1..=8189".into()));
            }
            let s = import::run(&client.client()?, &file, format, batch, imported)?;
            println!(
                "imported {}: {} events, {} recorded now, {} already recorded",
                file.display(),
                s.events,
                s.ok,
                s.exists
            );
        }
        Command::Transfer {
            client,
            transfer,
            receipt,
        } => {
            let body = transfer.json();
            let path = if receipt {
                "/v1/transfers?receipt=true"
            } else {
                "/v1/transfers"
            };
            print(&client.client()?.post(path, &body)?);
        }
        Command::Balance { client, account, at } => {
            let mut path = format!("/v1/accounts/{}/balance", segment(&account));
            if let Some(at) = at {
                path.push_str(&format!("?at={}", segment(&at)));
            }
            print(&client.client()?.get(&path)?);
        }
        Command::History {
            client,
            account,
            after,
            limit,
        } => {
            let mut path = format!("/v1/accounts/{}/history?limit={limit}", segment(&account));
            if let Some(after) = after {
                path.push_str(&format!("&after={after}"));
            }
            print(&client.client()?.get(&path)?);
        }
        Command::Proof(ProofCommand::Inclusion { client, index, size }) => {
            let mut path = format!("/v1/proofs/inclusion?index={index}");
            if let Some(size) = size {
                path.push_str(&format!("&size={size}"));
            }
            print(&client.client()?.get(&path)?);
        }
        Command::Proof(ProofCommand::Consistency { client, from, to }) => {
            let mut path = format!("/v1/proofs/consistency?from={from}");
            if let Some(to) = to {
                path.push_str(&format!("&to={to}"));
            }
            print(&client.client()?.get(&path)?);
        }
        Command::Recon {
            client,
            statement,
            account,
            date,
            internal,
            at,
            action,
        } => match action {
            Some(ReconAction::Breaks { client, all }) => {
                let status = if all { "all" } else { "open" };
                print(
                    &client
                        .client()?
                        .get(&format!("/v1/reconciliations/breaks?status={status}"))?,
                );
            }
            Some(ReconAction::Resolve {
                client,
                id,
                reason,
                transfer_index,
            }) => {
                let body = serde_json::json!({"reason": reason, "transfer_index": transfer_index});
                print(
                    &client
                        .client()?
                        .post(&format!("/v1/reconciliations/breaks/{id}/resolve"), &body)?,
                );
            }
            None => {
                let result = if internal {
                    let query = match (&at, &date) {
                        (Some(at), _) => format!("?at={}", segment(at)),
                        (None, Some(date)) => format!("?date={}", segment(date)),
                        (None, None) => String::new(),
                    };
                    client
                        .client()?
                        .post(&format!("/v1/reconciliations/internal{query}"), &serde_json::json!({}))?
                } else {
                    let file = statement.expect("clap requires --statement");
                    let bytes = std::fs::read(&file).map_err(|e| Error::io(&file, e))?;
                    let is_csv = file.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv"));
                    let path = format!(
                        "/v1/reconciliations?account={}&date={}",
                        segment(&account.expect("clap requires --account")),
                        segment(&date.expect("clap requires --date"))
                    );
                    let content_type = if is_csv { "text/csv" } else { "application/xml" };
                    client.client()?.post_bytes(&path, content_type, &bytes)?
                };
                print(&result);
                if result["result"] == "breaks" {
                    std::process::exit(2);
                }
            }
        },
        Command::Token(command) => run_token(command)?,
        Command::Image(ImageCommand::Export { disk, out, vkey }) => {
            let key = vkey.as_deref().map(image::read_vkey_arg).transpose()?;
            let summary = image::export(&disk, &out, key.as_ref())?;
            use base64::Engine as _;
            let root = base64::engine::general_purpose::STANDARD.encode(summary.checkpoint.root);
            println!(
                "exported {} to {}: {} files ({} bytes), {} entries, checkpoint size {} (origin {}, root {root})",
                disk.display(),
                out.display(),
                summary.files,
                summary.bytes,
                summary.entries,
                summary.checkpoint.size,
                summary.checkpoint.origin
            );
            if summary.entries != summary.checkpoint.size {
                eprintln!(
                    "ledgerfs: warning: the bundles hold {} entries but the checkpoint says {}: `ledgerfs verify` will refuse this log",
                    summary.entries, summary.checkpoint.size
                );
            }
            if summary.vkey_written {
                println!(
                    "checkpoint signature verified; wrote {}; check everything with: ledgerfs verify --dir {}",
                    out.join(ledger::VKEY_FILE).display(),
                    out.display()
                );
            } else {
                println!(
                    "check it with: ledgerfs verify --dir {} --vkey KEY   (or export with --vkey to write {}/{})",
                    out.display(),
                    out.display(),
                    ledger::VKEY_FILE
                );
            }
        }
        Command::Appliance(args) => run_appliance(args)?,
    }
    Ok(())
}

/// `ledgerfs token add|list|revoke`: edits DIR/ledgerfs.toml (atomically, under its lock).
fn run_token(command: TokenCommand) -> Result<()> {
    match command {
        TokenCommand::Add {
            data,
            name,
            role,
            accounts,
            uids,
        } => {
            let token = ledger::new_token();
            Config::edit(&data.data, |config| {
                config.add_token(TokenConfig {
                    name: name.clone(),
                    sha256: ledger::token_digest(&token),
                    role,
                    accounts,
                    uids,
                })
            })?;
            eprintln!(
                "added {} token {name:?} to {}; it is shown only now:",
                role.as_str(),
                Config::path(&data.data).display()
            );
            println!("{token}");
        }
        TokenCommand::List { data } => {
            let config = Config::read_file(&data.data)?;
            println!("{:<24} {:<10} {:<30} uids", "name", "role", "accounts");
            for t in &config.tokens {
                let uids: Vec<String> = t.uids.iter().map(u32::to_string).collect();
                println!(
                    "{:<24} {:<10} {:<30} {}",
                    t.name,
                    t.role.as_str(),
                    if t.accounts.is_empty() {
                        "-".to_string()
                    } else {
                        t.accounts.join(",")
                    },
                    if uids.is_empty() {
                        "-".to_string()
                    } else {
                        uids.join(",")
                    }
                );
            }
        }
        TokenCommand::Revoke { data, name } => {
            let removed = Config::edit(&data.data, |config| config.revoke_token(&name))?;
            println!("revoked {} token {:?}", removed.role.as_str(), removed.name);
        }
    }
    Ok(())
}

/// Reads a command's JSON argument (`-`: stdin) as one console line.
fn json_arg(text: &str) -> Result<String> {
    if text != "-" {
        return Ok(appliance::one_line(text));
    }
    let mut all = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut all)
        .map_err(|e| Error::Client(format!("reading the JSON from stdin: {e}")))?;
    Ok(appliance::one_line(&all))
}

/// `ledgerfs appliance`: one command line out, one JSON reply back.
fn run_appliance(args: ApplianceArgs) -> Result<()> {
    let line = match &args.command {
        ApplianceCommand::Accounts { json } => format!("accounts {}", json_arg(json)?),
        ApplianceCommand::Transfers { json } => format!("transfers {}", json_arg(json)?),
        ApplianceCommand::Balance { id } => format!("balance {id}"),
        ApplianceCommand::Checkpoint => "checkpoint".into(),
        ApplianceCommand::Bench { n } => format!("bench {n}"),
        ApplianceCommand::Status => "status".into(),
        ApplianceCommand::Raw { line } => line.join(" "),
        ApplianceCommand::Account(ApplianceAccountCommand::Create(account)) => {
            format!("accounts {}", account.json())
        }
        ApplianceCommand::Transfer(transfer) => format!("transfers {}", transfer.json()),
    };
    let serial = args
        .serial
        .ok_or_else(|| Error::Client("pass --serial SOCKET (or set LEDGERFS_SERIAL)".into()))?;
    let mut console = appliance::Console::connect(&serial)?;
    let verbose = args.verbose;
    let reply = console.request(&line, args.timeout, &mut |other| {
        if verbose {
            eprintln!("{other}");
        }
    })?;
    let note = reply.value.get("checkpoint").and_then(Value::as_str);
    match (args.raw, &args.command, note) {
        (true, _, _) => println!("{}", reply.line),
        (false, ApplianceCommand::Checkpoint, Some(note)) => {
            print!("{note}");
            if !note.ends_with('\n') {
                println!();
            }
        }
        _ => print(&reply.value),
    }
    match reply.error() {
        Some((code, message)) if message.is_empty() => Err(Error::Appliance(format!("the appliance answered {code}"))),
        Some((code, message)) => Err(Error::Appliance(format!("the appliance answered {code}: {message}"))),
        None => Ok(()),
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ledgerfs: error[{}]: {e}", e.code());
            ExitCode::FAILURE
        }
    }
}

/// The log's key and the witnesses' policy a receipt or balance proof is checked with.
fn signers(
    vkey: Option<String>,
    policy: Option<PathBuf>,
) -> Result<(Option<ledgerfs_attest::VerifierKey>, Option<ledgerfs_witness::Policy>)> {
    let vkey = vkey
        .map(|k| ledgerfs_attest::VerifierKey::parse(&k).map_err(|e| Error::Client(format!("--vkey: {e}"))))
        .transpose()?;
    let policy = policy
        .map(|p| {
            let text = std::fs::read_to_string(&p).map_err(|e| Error::io(&p, e))?;
            ledgerfs_witness::Policy::parse(&text).map_err(Error::Config)
        })
        .transpose()?;
    Ok((vkey, policy))
}

/// The report's cosignature clause (empty without a policy).
fn witnesses(checked: &ledgerfs_hosted::cli::receipt::Checked, with_policy: bool) -> String {
    if !with_policy {
        return String::new();
    }
    format!(
        ", cosigned by {} ({}), quorum met",
        checked.cosigned_by.len(),
        checked.cosigned_by.join(", ")
    )
}
