//! Bank statements in, as the reconciliation core's [`Statement`]: ISO 20022 `camt.053`
//! (Bank-to-Customer Statement, versions .001.02 to .001.13: the elements read here have
//! not moved) parsed with quick-xml, and a documented CSV layout for banks that only export
//! spreadsheets. Only booked entries count; every amount is exact (the ledger's decimal
//! rule, in the account's currency). A file that is not one statement of that currency
//! is refused with a message naming what is wrong.
//!
//! camt.053, per statement (`BkToCstmrStmt/Stmt`, exactly one per file):
//! - `Acct/Id/IBAN` (or `Acct/Id/Othr/Id`) and `Acct/Ccy`;
//! - `Bal` with `Tp/CdOrPrtry/Cd` `OPBD` (or `PRCD`) and `CLBD`: `Amt[@Ccy]`, `CdtDbtInd`
//!   (`CRDT` positive, `DBIT` negative), `Dt/Dt` (or `Dt/DtTm`);
//! - `Ntry`: `Amt[@Ccy]`, `CdtDbtInd`, `Sts` (`BOOK`, or `Sts/Cd` `BOOK`; others are
//!   skipped), `BookgDt/Dt`, and its reference: the first `NtryDtls/TxDtls/Refs/EndToEndId`
//!   that is not `NOTPROVIDED`, else `NtryRef`, else `AcctSvcrRef`, else the first
//!   `RmtInf/Ustrd`.
//!
//! CSV: a header `type,date,reference,amount` (extra columns are ignored), then one row
//! per booked entry (`type` = `entry`, signed `amount`: positive is money in), and rows of
//! `type` `opening` / `closing` for the balances (the closing one is required).

use ledgerfs_model::Currency;
use ledgerfs_recon::{parse_signed, Statement, StatementLine};
use quick_xml::events::Event;
use quick_xml::Reader;

/// A statement file as received: the statement and what it says about itself.
#[derive(Debug)]
pub struct Parsed {
    /// The statement's lines and balances.
    pub statement: Statement,
    /// The bank account it is for (IBAN or other id), if the file says.
    pub bank_account: Option<String>,
    /// The closing balance's date, if the file says.
    pub date: Option<String>,
}

/// Why a statement file is refused.
pub type Refusal = String;

/// Which format a body is in, from its media type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// ISO 20022 camt.053 XML.
    Camt053,
    /// The CSV layout above.
    Csv,
}

impl Format {
    /// From a `Content-Type` value (`application/xml`, `text/xml`, `text/csv`), or from
    /// the first non-blank byte when none is given.
    pub fn detect(content_type: Option<&str>, body: &[u8]) -> Option<Format> {
        match content_type.map(|c| c.split(';').next().unwrap_or("").trim().to_ascii_lowercase()) {
            Some(t) if t == "application/xml" || t == "text/xml" || t.ends_with("+xml") => Some(Format::Camt053),
            Some(t) if t == "text/csv" => Some(Format::Csv),
            Some(t) if !t.is_empty() && t != "application/octet-stream" => None,
            _ => match body.iter().find(|b| !b.is_ascii_whitespace()) {
                Some(b'<') => Some(Format::Camt053),
                Some(_) => Some(Format::Csv),
                None => None,
            },
        }
    }
}

/// Parses a statement in `format` whose amounts are in `currency`.
pub fn parse(format: Format, body: &[u8], currency: Currency) -> Result<Parsed, Refusal> {
    let text = std::str::from_utf8(body).map_err(|_| "the statement is not UTF-8 text".to_string())?;
    match format {
        Format::Camt053 => parse_camt053(text, currency),
        Format::Csv => parse_csv(text, currency),
    }
}

#[derive(Default)]
struct Balance {
    code: String,
    amount: String,
    currency: String,
    sign: String,
    date: String,
}

#[derive(Default)]
struct Entry {
    amount: String,
    currency: String,
    sign: String,
    status: String,
    date: String,
    entry_ref: String,
    servicer_ref: String,
    end_to_end: String,
    remittance: String,
}

fn signed(amount: &str, sign: &str, ccy: &str, currency: Currency, what: &str) -> Result<i128, Refusal> {
    if !ccy.is_empty() && ccy != currency.code() {
        return Err(format!("{what} is in {ccy}, the account is in {}", currency.code()));
    }
    let value = parse_signed(amount, currency).map_err(|e| format!("{what}: amount {amount:?}: {}", e.as_str()))?;
    if value < 0 {
        return Err(format!(
            "{what}: a camt.053 amount is unsigned (CdtDbtInd gives the sign)"
        ));
    }
    match sign {
        "CRDT" => Ok(value),
        "DBIT" => Ok(-value),
        other => Err(format!("{what}: CdtDbtInd must be CRDT or DBIT, not {other:?}")),
    }
}

fn parse_camt053(text: &str, currency: Currency) -> Result<Parsed, Refusal> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().trim_text(true);
    let mut path: Vec<String> = Vec::new();
    let (mut statements, mut in_document) = (0usize, false);
    let (mut account, mut account_ccy) = (None::<String>, None::<String>);
    let (mut balances, mut entries) = (Vec::<Balance>::new(), Vec::<Entry>::new());
    let mut amount_ccy = String::new();
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("not well-formed XML at byte {}: {e}", reader.error_position()))?;
        match event {
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if path.is_empty() {
                    if name != "Document" {
                        return Err(format!("the root element is {name}, not a camt.053 Document"));
                    }
                    in_document = true;
                }
                if path.len() == 1 && name != "BkToCstmrStmt" {
                    return Err(format!("Document holds {name}, not BkToCstmrStmt (camt.053)"));
                }
                if name == "Amt" {
                    amount_ccy.clear();
                    for a in e.attributes().flatten() {
                        if a.key.local_name().as_ref() == b"Ccy" {
                            amount_ccy = String::from_utf8_lossy(&a.value).into_owned();
                        }
                    }
                }
                path.push(name);
                let p: Vec<&str> = path.iter().map(String::as_str).collect();
                match p.as_slice() {
                    [_, _, "Stmt"] => statements += 1,
                    [_, _, "Stmt", "Bal"] => balances.push(Balance::default()),
                    [_, _, "Stmt", "Ntry"] => entries.push(Entry::default()),
                    _ => {}
                }
            }
            Event::Empty(e) if path.is_empty() => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                return Err(format!("the root element is an empty {name}, not a camt.053 Document"));
            }
            Event::End(_) => {
                path.pop();
            }
            Event::Text(t) => {
                let value = t
                    .unescape()
                    .map_err(|e| format!("bad text in {}: {e}", path.join("/")))?
                    .into_owned();
                let p: Vec<&str> = path.iter().map(String::as_str).collect();
                let s = match p.as_slice() {
                    [_, _, "Stmt", rest @ ..] => rest,
                    _ => continue,
                };
                match s {
                    ["Acct", "Id", "IBAN"] | ["Acct", "Id", "Othr", "Id"] => account = Some(value),
                    ["Acct", "Ccy"] => account_ccy = Some(value),
                    ["Bal", rest @ ..] => {
                        let b = balances.last_mut().expect("inside a Bal");
                        match rest {
                            ["Tp", "CdOrPrtry", "Cd"] => b.code = value,
                            ["Amt"] => {
                                b.amount = value;
                                b.currency = amount_ccy.clone();
                            }
                            ["CdtDbtInd"] => b.sign = value,
                            ["Dt", "Dt"] => b.date = value,
                            ["Dt", "DtTm"] => b.date = value.chars().take(10).collect(),
                            _ => {}
                        }
                    }
                    ["Ntry", rest @ ..] => {
                        let n = entries.last_mut().expect("inside an Ntry");
                        match rest {
                            ["Amt"] => {
                                n.amount = value;
                                n.currency = amount_ccy.clone();
                            }
                            ["CdtDbtInd"] => n.sign = value,
                            ["Sts"] | ["Sts", "Cd"] => n.status = value,
                            ["BookgDt", "Dt"] => n.date = value,
                            ["BookgDt", "DtTm"] => n.date = value.chars().take(10).collect(),
                            ["NtryRef"] => n.entry_ref = value,
                            ["AcctSvcrRef"] => n.servicer_ref = value,
                            ["NtryDtls", "TxDtls", "Refs", "EndToEndId"]
                                if n.end_to_end.is_empty() && value != "NOTPROVIDED" =>
                            {
                                n.end_to_end = value
                            }
                            ["NtryDtls", "TxDtls", "RmtInf", "Ustrd"] if n.remittance.is_empty() => {
                                n.remittance = value
                            }
                            _ => {}
                        }
                    }
                    _ => {}
                }
            }
            Event::Eof if !path.is_empty() => {
                return Err(format!("not well-formed XML: the file ends inside {}", path.join("/")));
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !in_document {
        return Err("no camt.053 Document element".into());
    }
    if statements != 1 {
        return Err(format!(
            "the file holds {statements} statements (Stmt); send one per request"
        ));
    }
    if let Some(ccy) = &account_ccy {
        if ccy != currency.code() {
            return Err(format!(
                "the statement's account is in {ccy}, the ledger account in {}",
                currency.code()
            ));
        }
    }
    let mut opening = None;
    let mut closing = None;
    for b in &balances {
        let what = format!("balance {}", b.code);
        match b.code.as_str() {
            "OPBD" | "PRCD" if opening.is_none() => {
                opening = Some(signed(&b.amount, &b.sign, &b.currency, currency, &what)?)
            }
            "CLBD" => {
                closing = Some((
                    signed(&b.amount, &b.sign, &b.currency, currency, &what)?,
                    b.date.clone(),
                ))
            }
            _ => {}
        }
    }
    let (closing, date) = closing.ok_or("the statement has no closing booked balance (Bal of type CLBD)")?;
    let mut lines = Vec::new();
    for (i, n) in entries.iter().enumerate() {
        if !(n.status.is_empty() || n.status == "BOOK") {
            continue;
        }
        let what = format!("entry {}", i + 1);
        let reference = [&n.end_to_end, &n.entry_ref, &n.servicer_ref, &n.remittance]
            .into_iter()
            .find(|r| !r.is_empty())
            .cloned()
            .unwrap_or_default();
        lines.push(StatementLine {
            reference,
            amount: signed(&n.amount, &n.sign, &n.currency, currency, &what)?,
            date: n.date.clone(),
        });
    }
    Ok(Parsed {
        statement: Statement {
            currency,
            opening,
            closing,
            lines,
        },
        bank_account: account,
        date: (!date.is_empty()).then_some(date),
    })
}

fn parse_csv(text: &str, currency: Currency) -> Result<Parsed, Refusal> {
    let mut rows = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = rows.headers().map_err(|e| format!("CSV header: {e}"))?.clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h.eq_ignore_ascii_case(name))
            .ok_or_else(|| format!("the CSV header lacks the column {name:?} (type,date,reference,amount)"))
    };
    let (kind, date, reference, amount) = (
        column("type")?,
        column("date")?,
        column("reference")?,
        column("amount")?,
    );
    let (mut opening, mut closing, mut lines) = (None, None, Vec::new());
    for (i, row) in rows.records().enumerate() {
        let row = row.map_err(|e| format!("CSV row {}: {e}", i + 2))?;
        let field = |c: usize| row.get(c).unwrap_or("");
        let value = parse_signed(field(amount), currency)
            .map_err(|e| format!("CSV row {}: amount {:?}: {}", i + 2, field(amount), e.as_str()))?;
        match field(kind) {
            "entry" => lines.push(StatementLine {
                reference: field(reference).to_string(),
                amount: value,
                date: field(date).to_string(),
            }),
            "opening" => opening = Some(value),
            "closing" => closing = Some((value, field(date).to_string())),
            other => {
                return Err(format!(
                    "CSV row {}: type must be entry, opening or closing, not {other:?}",
                    i + 2
                ))
            }
        }
    }
    let (closing, date) = closing.ok_or("the CSV statement has no closing row")?;
    Ok(Parsed {
        statement: Statement {
            currency,
            opening,
            closing,
            lines,
        },
        bank_account: None,
        date: (!date.is_empty()).then_some(date),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur() -> Currency {
        Currency::from_code("EUR").unwrap()
    }

    const CAMT: &str = include_str!("../../../tests/fixtures/statements/matched.xml");

    #[test]
    fn a_camt053_statement() {
        let p = parse(Format::Camt053, CAMT.as_bytes(), eur()).unwrap();
        assert_eq!(p.bank_account.as_deref(), Some("GB33BUKB20201555555555"));
        assert_eq!(p.date.as_deref(), Some("2026-11-30"));
        assert_eq!(p.statement.opening, Some(0));
        assert_eq!(p.statement.closing, 115_000);
        let refs: Vec<_> = p
            .statement
            .lines
            .iter()
            .map(|l| (l.reference.as_str(), l.amount))
            .collect();
        assert_eq!(
            refs,
            [("FUND-ALICE", 100_000), ("FUND-BOB", 25_000), ("REDEEM-BOB", -10_000)]
        );
    }

    #[test]
    fn refusals_say_what_is_wrong() {
        let gbp = Currency::from_code("GBP").unwrap();
        let cases: [(&str, Currency, &str); 5] = [
            ("<x/>", eur(), "root element"),
            ("<Document><BkToCstmrStmt>", eur(), "not well-formed"),
            (CAMT, gbp, "in EUR"),
            (
                "<Document><BkToCstmrStmt><Stmt></Stmt></BkToCstmrStmt></Document>",
                eur(),
                "closing",
            ),
            (&CAMT.replace("CRDT", "CREDIT"), eur(), "CdtDbtInd"),
        ];
        for (text, currency, says) in cases {
            let e = parse(Format::Camt053, text.as_bytes(), currency).unwrap_err();
            assert!(e.contains(says), "{e}");
        }
    }

    #[test]
    fn a_csv_statement() {
        let text = "type,date,reference,amount,description\nopening,2026-11-30,,0\nentry,2026-11-30,FUND-ALICE,1000.00,in\nentry,2026-11-30,\"REDEEM, BOB\",-100.00,out\nclosing,2026-11-30,,900.00\n";
        let p = parse(Format::Csv, text.as_bytes(), eur()).unwrap();
        assert_eq!(p.statement.closing, 90_000);
        assert_eq!(p.statement.lines[1].reference, "REDEEM, BOB");
        assert_eq!(p.statement.lines[1].amount, -10_000);
        for (bad, says) in [
            ("date,amount\n", "lacks the column"),
            ("type,date,reference,amount\nentry,d,r,1.001\n", "amount"),
            ("type,date,reference,amount\nentry,d,r,1\n", "no closing"),
            ("type,date,reference,amount\nfee,d,r,1\n", "type must be"),
        ] {
            let e = parse(Format::Csv, bad.as_bytes(), eur()).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
        assert_eq!(Format::detect(Some("text/csv; charset=utf-8"), b""), Some(Format::Csv));
        assert_eq!(Format::detect(None, b"  <Document"), Some(Format::Camt053));
        assert_eq!(Format::detect(Some("image/png"), b""), None);
    }
}
