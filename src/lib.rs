//! doctor: runs the ai-micro-service troubleshooting runbook's checks and gives every
//! documented cause a verdict. Probes gather facts (I/O only), problems diagnose them (pure),
//! renderers print the report; `cli` wires them to the command line.

pub mod catalogue;
pub mod cli;
pub mod clock;
pub mod config;
pub mod envfile;
pub mod explain;
pub mod facts;
pub mod impact;
pub mod jwt;
pub mod lang;
pub mod logline;
pub mod probe;
pub mod problems;
pub mod prometheus;
pub mod redact;
pub mod render;
pub mod report;
pub mod root_cause;
pub mod run;
pub mod runbook;
pub mod stack;
#[cfg(test)]
mod testing;
pub mod text;
pub mod timeline;
pub mod triage;
pub mod urls;
