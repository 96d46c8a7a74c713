//! Texts a person pastes into `doctor explain` (an error message, a code, a cause id, a
//! Japanese description): `explain::search` over the built-in catalogue, and `explain::tokens`.
#![no_main]

use doctor::{catalogue, explain};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let problems = catalogue::all().expect("the built-in runbook parses");
    let _ = explain::tokens(&s);
    let found = explain::search(problems, &s);
    assert!(found.len() <= 5);
    for f in &found {
        assert!(f.score.is_finite() && f.score > 0.0);
        assert!(problems.iter().any(|p| p.code == f.problem.code));
    }
});
