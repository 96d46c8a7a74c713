//! The Docker engine itself: DK001.

pub mod dk001_engine_unreachable;
pub mod dk002_container_not_running;
