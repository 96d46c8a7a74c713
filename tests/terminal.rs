//! doctor in a real terminal: a tmux pane of 100 columns, where bash does not export `COLUMNS`.
//! The width must come from the terminal itself, and no table row may wrap.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

fn tmux(socket: &str, args: &[&str]) -> String {
    let out = Command::new("tmux").arg("-L").arg(socket).args(args).output().expect("run tmux");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn in_a_100_column_pane_no_table_row_wraps() {
    let has_tmux = Command::new("tmux").arg("-V").output().is_ok_and(|o| o.status.success());
    if !support::require_or_skip("tmux", has_tmux) {
        return;
    }
    let socket = format!("doctor-test-{}", std::process::id());
    let bin = env!("CARGO_BIN_EXE_doctor");
    // PostgreSQL on a port where nothing listens: a critical check with full tables.
    // The short view, then the full tables (-v), in English and in Japanese.
    let run = |lang: &str, v: &str| {
        format!(
            "env -u COLUMNS -u LINES NO_COLOR=1 DOCTOR_LANG={lang} {bin} postgres --no-docker {v} \
             --url postgresql://doctor@127.0.0.1:9/x --timeout 1s 2>/dev/null"
        )
    };
    let script = format!("{}; {}; {}; echo DOCTOR-DONE; sleep 60", run("en", ""), run("en", "-v"), run("ja", "-v"));
    tmux(&socket, &["new-session", "-d", "-x", "100", "-y", "50", "-s", "t", &script]);
    tmux(&socket, &["set-option", "-t", "t", "history-limit", "10000"]);
    let started = Instant::now();
    let screen = loop {
        // -J joins the lines the terminal wrapped: a joined line longer than the pane wrapped.
        let s = tmux(&socket, &["capture-pane", "-p", "-J", "-S", "-", "-t", "t"]);
        if s.contains("DOCTOR-DONE") || started.elapsed() > Duration::from_secs(30) {
            break s;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    tmux(&socket, &["kill-server"]);
    assert!(screen.contains("DOCTOR-DONE"), "doctor did not finish in the pane:\n{screen}");
    assert!(screen.contains("PG001"), "{screen}");
    let tables = screen.lines().filter(|l| l.trim_start().starts_with(['┌', '│', '├', '└', '╭', '+', '|'])).count();
    assert!(tables > 5, "no table was printed:\n{screen}");
    assert!(screen.contains("every row with -v"), "the short view's last line is missing:\n{screen}");
    for line in screen.lines() {
        let cols = display_width(line);
        assert!(cols <= 100, "a line wrapped ({cols} columns):\n{line}\n\n{screen}");
    }
}

/// Terminal columns: East Asian wide characters take two.
fn display_width(s: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(s)
}
