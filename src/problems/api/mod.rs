//! user-api and admin-api: API001 (does not answer in time).

pub mod api001_timeout;
