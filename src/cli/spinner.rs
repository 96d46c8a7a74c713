//! The spinner: on a terminal, while checks run, one line on stderr says what is still being
//! waited for ("⠹ waiting for postgres, auth · 1.2s"). Never on a pipe, never with a machine
//! format (json, junit, markdown), never with `-q`; it appears only after 200 ms so fast runs do
//! not flicker, and it erases itself before the report is printed.

use crate::lang::{Lang, tr};
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub struct Spinner {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

const FRAMES: &[char] = &['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

impl Spinner {
    /// Starts drawing when `enabled`; otherwise a spinner that does nothing.
    pub fn start(enabled: bool, lang: Lang) -> Spinner {
        let stop = Arc::new(AtomicBool::new(false));
        if !enabled {
            return Spinner { stop, handle: None };
        }
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let began = Instant::now();
            let mut drawn = false;
            let mut frame = 0;
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(80));
                if began.elapsed() < Duration::from_millis(200) || flag.load(Ordering::Relaxed) {
                    continue;
                }
                let running = crate::run::running();
                let what = if running.is_empty() { tr(lang, "diagnosing", "診断中") } else { running.join(", ") };
                let line = tr(
                    lang,
                    format!(
                        "{} waiting for {what} · {:.1}s",
                        FRAMES[frame % FRAMES.len()],
                        began.elapsed().as_secs_f64()
                    ),
                    format!("{} 待機中: {what} · {:.1}s", FRAMES[frame % FRAMES.len()], began.elapsed().as_secs_f64()),
                );
                let mut e = std::io::stderr().lock();
                let _ = write!(e, "\r{line}\x1b[K");
                let _ = e.flush();
                drawn = true;
                frame += 1;
            }
            if drawn {
                let mut e = std::io::stderr().lock();
                let _ = write!(e, "\r\x1b[K");
                let _ = e.flush();
            }
        });
        Spinner { stop, handle: Some(handle) }
    }

    /// Stops and erases the line.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
