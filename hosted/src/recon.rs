//! Reconciliation on the daemon: bank statements parsed (`statement`), the ledger's side
//! gathered from the read model and the log (`ledger_side`), and the signed break log
//! (`breaklog`). The rules themselves are the `ledgerfs-recon` core's.

pub mod breaklog;
pub mod ledger_side;
pub mod pack;
pub mod report;
pub mod statement;
pub mod statements;
