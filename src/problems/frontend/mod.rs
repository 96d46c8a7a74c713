//! The Next.js frontends and their BFF: FE001 (page), FE002 (login cookies and CORS), FE003
//! (API calls through the BFF).

pub mod fe001_page_does_not_load;
pub mod fe002_no_redirect_after_login;
pub mod fe003_api_unauthorized;
