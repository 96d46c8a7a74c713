//! `doctor stack`: find the stack and print the model (table, JSON `doctor.stack/v1`,
//! Markdown), or write it as a `doctor.toml` to edit. Exit 0 when every required role has a
//! container, 1 when one is missing, 3 when the engine could not be asked.

use super::{err, out, out_json};
use crate::config::{Format, Settings};
use crate::render;
use crate::run::{self, Request};
use std::path::Path;

pub fn run(s: &Settings, write_config: Option<&Path>) -> i32 {
    if matches!(s.format, Format::Junit | Format::Nagios | Format::Prometheus) {
        err("doctor stack prints table, json or markdown (junit, nagios and prometheus are for the checks)");
        return 3;
    }
    if let Some(p) = write_config
        && p.exists()
    {
        err(&format!("{} exists: remove it or choose another file", p.display()));
        return 3;
    }
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            err(&format!("cannot start the async runtime: {e}"));
            return 3;
        }
    };
    let found = rt.block_on(run::find_stack(s, &Request::default(), !s.no_docker));
    let stack = found.targets.stack;
    let answered = matches!(found.discovered, Some(Ok(_)));
    if let Some(p) = write_config {
        let now = run::rfc3339(std::time::SystemTime::now());
        if let Err(e) = std::fs::write(p, crate::stack::config_file::text(&stack, &now)) {
            err(&format!("{}: {e}", p.display()));
            return 3;
        }
        err(&format!("wrote {}", p.display()));
    }
    match s.format {
        Format::Json => out_json(serde_json::to_value(&stack).unwrap_or_default()),
        Format::Markdown => out(&render::stack::markdown(&stack, s.lang)),
        _ => {
            let style = super::term::style(s);
            out(&render::stack::table(&stack, s.lang, style));
        }
    }
    if !answered {
        return 3;
    }
    let missing = stack.services.iter().any(|m| !m.optional && m.container.is_none());
    if missing { 1 } else { 0 }
}
