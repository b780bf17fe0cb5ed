//! The PostgreSQL side of the macro workloads: the same accounts with the same overdraft
//! rule, and the same transfers, each posted by a transaction that inserts the transfer
//! and updates both balances (PostgreSQL's best case: a server-side function, one round
//! trip per transaction, accounts locked in key order so clients never deadlock), one
//! transfer per transaction or 100 per transaction, from `tokio-postgres` clients.

use std::time::Duration;

use tokio::runtime::Runtime;
use tokio_postgres::{Client, NoTls, Statement};

use crate::cluster::{Cluster, SETTINGS};
use crate::error::{Context, Result};
use crate::http::Posted;
use crate::load::{self, Worker};
use crate::progress::Progress;
use crate::results::{PostgresInfo, RunResult, System};
use crate::workload::{self, Transfer, FUNDING, OPENING_CENTS};

/// The schema and the posting functions.
const SCHEMA: &str = r#"
CREATE TABLE accounts (
    id text PRIMARY KEY,
    debits bigint NOT NULL DEFAULT 0,
    credits bigint NOT NULL DEFAULT 0,
    debits_must_not_exceed_credits boolean NOT NULL
);
CREATE TABLE transfers (
    id text PRIMARY KEY,
    debit text NOT NULL,
    credit text NOT NULL,
    amount bigint NOT NULL CHECK (amount > 0),
    currency char(3) NOT NULL,
    created timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE FUNCTION post_transfer(p_id text, p_debit text, p_credit text, p_amount bigint) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    locked int;
    d accounts%ROWTYPE;
BEGIN
    IF p_debit = p_credit THEN RETURN 'same_account'; END IF;
    SELECT count(*) INTO locked FROM
        (SELECT id FROM accounts WHERE id IN (p_debit, p_credit) ORDER BY id FOR UPDATE) l;
    IF locked < 2 THEN RETURN 'account_not_found'; END IF;
    SELECT * INTO d FROM accounts WHERE id = p_debit;
    IF d.debits_must_not_exceed_credits AND d.debits + p_amount > d.credits THEN
        RETURN 'insufficient_funds';
    END IF;
    INSERT INTO transfers (id, debit, credit, amount, currency)
        VALUES (p_id, p_debit, p_credit, p_amount, 'EUR') ON CONFLICT (id) DO NOTHING;
    IF NOT FOUND THEN RETURN 'exists'; END IF;
    UPDATE accounts SET debits = debits + p_amount WHERE id = p_debit;
    UPDATE accounts SET credits = credits + p_amount WHERE id = p_credit;
    RETURN 'ok';
END $$;
CREATE FUNCTION post_transfers(p_ids text[], p_debits text[], p_credits text[], p_amounts bigint[]) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    accepted int := 0;
BEGIN
    PERFORM 1 FROM accounts WHERE id = ANY (p_debits || p_credits) ORDER BY id FOR UPDATE;
    FOR i IN 1 .. coalesce(array_length(p_ids, 1), 0) LOOP
        IF post_transfer(p_ids[i], p_debits[i], p_credits[i], p_amounts[i]) = 'ok' THEN
            accepted := accepted + 1;
        END IF;
    END LOOP;
    RETURN accepted;
END $$;
"#;

/// Transfers as query parameters.
pub struct PgBatch {
    ids: Vec<String>,
    debits: Vec<String>,
    credits: Vec<String>,
    amounts: Vec<i64>,
}

impl PgBatch {
    fn new(batch: &[Transfer]) -> PgBatch {
        PgBatch {
            ids: batch.iter().map(|t| t.id.clone()).collect(),
            debits: batch.iter().map(|t| workload::account_id(t.debit)).collect(),
            credits: batch.iter().map(|t| workload::account_id(t.credit)).collect(),
            amounts: batch.iter().map(|t| t.cents as i64).collect(),
        }
    }
}

/// One connection, driven by its own single-threaded runtime.
pub struct PgWorker {
    runtime: Runtime,
    client: Client,
    one: Statement,
    many: Statement,
}

/// A PostgreSQL error with the server's message when there is one.
fn pg_error(what: &str, e: tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{what}: {} ({})", db.message(), db.code().code()),
        None => format!("{what}: {e}"),
    }
}

/// A runtime and a connection driven by it.
fn connect(conninfo: &str) -> Result<(Runtime, Client)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context(|| "tokio runtime".into())?;
    let client = runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(conninfo, NoTls)
            .await
            .map_err(|e| pg_error("connecting to PostgreSQL", e))?;
        tokio::spawn(connection);
        Ok::<_, String>(client)
    })?;
    Ok((runtime, client))
}

/// Creates the schema and the posting functions.
fn create_schema(conninfo: &str) -> Result<()> {
    let (runtime, client) = connect(conninfo)?;
    runtime
        .block_on(client.batch_execute(SCHEMA))
        .map_err(|e| pg_error("creating the schema", e))
}

impl PgWorker {
    /// Connects and prepares the two statements (the schema must exist).
    pub fn connect(conninfo: &str) -> Result<PgWorker> {
        let (runtime, client) = connect(conninfo)?;
        let prepare = |sql: &str| runtime.block_on(client.prepare(sql)).map_err(|e| pg_error(sql, e));
        let one = prepare("SELECT post_transfer($1, $2, $3, $4)")?;
        let many = prepare("SELECT post_transfers($1, $2, $3, $4)")?;
        Ok(PgWorker {
            runtime,
            client,
            one,
            many,
        })
    }

    /// Runs SQL statements.
    fn execute(&self, sql: &str) -> Result<()> {
        self.runtime
            .block_on(self.client.batch_execute(sql))
            .map_err(|e| pg_error("PostgreSQL", e))
    }

    /// One query returning one text value per row.
    fn strings(&self, sql: &str) -> Result<Vec<String>> {
        let rows = self
            .runtime
            .block_on(self.client.query(sql, &[]))
            .map_err(|e| pg_error(sql, e))?;
        rows.iter()
            .map(|r| r.try_get::<_, String>(0).context(|| sql.to_string()))
            .collect()
    }
}

impl Worker for PgWorker {
    type Request = PgBatch;

    fn warm_up(&mut self) -> Result<()> {
        self.execute("SELECT 1")
    }

    fn call(&mut self, b: &PgBatch) -> Result<Posted> {
        for attempt in 0.. {
            let result = if b.ids.len() == 1 {
                self.runtime
                    .block_on(
                        self.client
                            .query_one(&self.one, &[&b.ids[0], &b.debits[0], &b.credits[0], &b.amounts[0]]),
                    )
                    .map(|row| u64::from(row.get::<_, String>(0) == "ok"))
            } else {
                self.runtime
                    .block_on(
                        self.client
                            .query_one(&self.many, &[&b.ids, &b.debits, &b.credits, &b.amounts]),
                    )
                    .map(|row| row.get::<_, i32>(0).max(0) as u64)
            };
            match result {
                Ok(accepted) => {
                    return Ok(Posted {
                        accepted,
                        rejected: b.ids.len() as u64 - accepted,
                    })
                }
                // Deadlock or serialization failure: retry, as an application would.
                Err(e) if attempt < 10 && e.code().is_some_and(|c| c.code().starts_with("40")) => continue,
                Err(e) => return Err(pg_error("posting", e)),
            }
        }
        unreachable!("the loop returns")
    }
}

/// Creates the schema, opens and funds the same accounts as LedgerFS, and reports the
/// server's version and durability settings.
pub fn load_accounts(cluster: &Cluster, accounts: u64) -> Result<PostgresInfo> {
    create_schema(&cluster.conninfo())?;
    let mut w = PgWorker::connect(&cluster.conninfo())?;
    let mut values = vec![format!("('{FUNDING}', false)")];
    values.extend((0..accounts).map(|i| format!("('{}', true)", workload::account_id(i))));
    w.execute(&format!(
        "INSERT INTO accounts (id, debits_must_not_exceed_credits) VALUES {}",
        values.join(",")
    ))?;
    let ids: Vec<u64> = (0..accounts).collect();
    for chunk in ids.chunks(1_000) {
        let batch = PgBatch {
            ids: chunk.iter().map(|a| format!("fund-{a}")).collect(),
            debits: vec![FUNDING.to_string(); chunk.len()],
            credits: chunk.iter().map(|&a| workload::account_id(a)).collect(),
            amounts: vec![OPENING_CENTS as i64; chunk.len()],
        };
        let posted = w.call(&batch)?;
        if posted.rejected > 0 {
            return Err(format!("PostgreSQL rejected {} funding transfers", posted.rejected));
        }
    }
    w.execute("VACUUM ANALYZE")?;
    let version = w.strings("SELECT version()")?.join("");
    let mut settings = Vec::new();
    for (name, _) in SETTINGS {
        let value = w.strings(&format!("SELECT current_setting('{name}')"))?.join("");
        settings.push((name.to_string(), value));
    }
    Ok(PostgresInfo { version, settings })
}

/// Runs `transfers` dealt to `clients` connections, `batch` per transaction.
pub fn run(
    cluster: &Cluster,
    label: &str,
    transfers: &[Transfer],
    batch: usize,
    clients: usize,
    limit: Duration,
    progress: &Progress,
) -> Result<RunResult> {
    let requests: Vec<Vec<PgBatch>> = workload::deal(transfers, clients, batch)
        .into_iter()
        .map(|mine| mine.into_iter().map(PgBatch::new).collect())
        .collect();
    let workers = (0..clients)
        .map(|_| PgWorker::connect(&cluster.conninfo()))
        .collect::<Result<Vec<_>>>()?;
    let bar = progress.bar(transfers.len() as u64, &format!("PostgreSQL {label}"));
    let measured = load::run(workers, &requests, limit, &bar)?;
    bar.finish_and_clear();
    Ok(RunResult::new(
        System::Postgres,
        label.to_string(),
        batch,
        clients,
        measured,
    ))
}
