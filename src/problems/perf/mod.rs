//! Performance problems; PERF002 (memory) from the engine's figures so far.

pub mod perf001_slow_responses;
pub mod perf002_memory_growth;
