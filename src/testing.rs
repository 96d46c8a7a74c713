//! Helpers shared by the unit tests that read the repository itself (the purity scan of
//! `src/problems/`, the message-key scan of `src/`, the language checks of the runbooks), so
//! that each walks the tree and tells Japanese the same way. Test builds only.

use std::path::{Path, PathBuf};

/// Every file under `dir`, recursively, in a stable order.
pub(crate) fn source_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}

/// Whether a text holds kana or kanji: the test that a `ja` text is Japanese.
pub(crate) fn is_japanese(s: &str) -> bool {
    s.chars().any(|c| ('\u{3040}'..='\u{30ff}').contains(&c) || ('\u{4e00}'..='\u{9fff}').contains(&c))
}
