//! Closed-month statements, produced once: the one rule the API
//! (`GET /v1/accounts/{id}/statements/{month}`) and the FUSE view
//! (`accounts/<id>/statements/<month>.csv`) share. A month is closed once the log holds an
//! entry at or after its end (entry times strictly increase, so nothing can be added
//! before it). The first time a closed month is rendered, the SHA-256 of its CSV and JSON
//! renderings is recorded in the break log; every later rendering is checked against that
//! record, so the bytes a reader gets never change (a mismatch is corruption, refused).

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::read::logread::LogReader;
use crate::read::monthly::{render, MonthStatement};
use crate::read::view::AccountView;
use crate::recon::breaklog::{AppendError, BreakLog};
use crate::recon::report::month_days;
use ledgerfs_recon::entry::write_statement;

/// A month's statement and whether it is closed (recorded, never changing).
pub struct Rendered {
    /// Both renderings.
    pub statement: MonthStatement,
    /// The month is over and its digests are recorded.
    pub closed: bool,
    /// SHA-256 (hex) of the CSV rendering.
    pub csv_sha256: String,
    /// SHA-256 (hex) of the JSON rendering.
    pub json_sha256: String,
}

/// Renders `account`'s statement for `month` (`YYYY-MM`) from the first `size` entries,
/// recording a closed month's digests the first time. `Ok(None)`: not a month.
pub fn month_statement(
    reader: &LogReader,
    log: &BreakLog,
    account: &AccountView,
    size: u64,
    month: &str,
) -> Result<Option<Rendered>> {
    let Some(days) = month_days(month) else {
        return Ok(None);
    };
    let bounds = (days[0].1, days[days.len() - 1].2);
    let closed = size > 0 && reader.decoded(size - 1, size)?.time >= bounds.1;
    let statement = render(reader, &account.record, &account.postings, size, month, bounds)?;
    let csv_sha256 = crate::storage::ledger::hex(&Sha256::digest(statement.csv.as_bytes()));
    let json_sha256 = crate::storage::ledger::hex(&Sha256::digest(statement.json.as_bytes()));
    if closed {
        let id = account.record.id.as_str();
        if log.statement(id, month).is_none() {
            let appended = log.append(
                |p| match p.statements.contains_key(&(id.to_string(), month.to_string())) {
                    true => Err(AppendError::Exists),
                    false => Ok(()),
                },
                |first, time| {
                    let mut t = String::new();
                    write_statement(
                        &mut t,
                        first,
                        time,
                        id,
                        month,
                        &csv_sha256,
                        &json_sha256,
                        statement.lines,
                    );
                    vec![t]
                },
            );
            match appended {
                Ok(_) | Err(AppendError::Exists) => {}
                Err(AppendError::Failed(e)) => return Err(e),
                Err(AppendError::Refused(_)) => unreachable!("the check refuses only with Exists"),
            }
        }
        let recorded = log.statement(id, month);
        if recorded.as_ref() != Some(&(csv_sha256.clone(), json_sha256.clone())) {
            return Err(Error::Corrupt {
                path: format!("statement {id} {month}"),
                reason: "the closed month renders differently from the digest recorded in the break log".into(),
            });
        }
    }
    Ok(Some(Rendered {
        statement,
        closed,
        csv_sha256,
        json_sha256,
    }))
}
