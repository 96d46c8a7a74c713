//! user-api and admin-api: API001 (does not answer in time), API002 (profile lookup fails),
//! API003 (document upload fails).

pub mod admin_work;
pub mod api001_timeout;
pub mod api002_profile_lookup_fails;
pub mod api003_upload_fails;
