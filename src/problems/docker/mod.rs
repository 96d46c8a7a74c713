//! The Docker engine and the stack's containers: DK001, DK002, DK003, and the containers at a glance.

pub mod dk001_engine_unreachable;
pub mod dk002_container_not_running;
pub mod dk003_engine_disk_full;
pub mod glance;
