//! What the terminal is: its width and whether it takes colour. The width comes from the
//! terminal itself (bash does not export `COLUMNS`, so reading only the variable wrapped every
//! row in a real pane); `COLUMNS` stays an override, and 80 is the width when stdout is no
//! terminal (a file, a pipe, CI).

use crate::config::Settings;
use crate::render::Style;
use std::io::IsTerminal;

/// The width when nothing says otherwise: what a pipe or a CI log is read at.
pub const DEFAULT_WIDTH: usize = 80;

pub fn style(s: &Settings) -> Style {
    Style {
        color: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        width: width(std::env::var("COLUMNS").ok().as_deref(), terminal_size::terminal_size().map(|(w, _)| w.0)),
        verbose: s.verbose,
        quiet: s.quiet,
    }
}

/// `COLUMNS` when it is a sane number, else the terminal's width, else [`DEFAULT_WIDTH`].
pub fn width(columns: Option<&str>, terminal: Option<u16>) -> usize {
    columns
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|w| (20..=1000).contains(w))
        .or_else(|| terminal.map(usize::from).filter(|w| *w >= 20))
        .unwrap_or(DEFAULT_WIDTH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_overrides_the_terminal_which_beats_the_default() {
        assert_eq!(width(Some("132"), Some(100)), 132);
        assert_eq!(width(None, Some(100)), 100);
        assert_eq!(width(None, None), DEFAULT_WIDTH);
        assert_eq!(width(Some("abc"), Some(100)), 100, "a junk COLUMNS is ignored");
        assert_eq!(width(Some("0"), None), DEFAULT_WIDTH);
        assert_eq!(width(Some("99999999"), Some(90)), 90);
    }
}
