//! The `doctor` binary: install the TLS provider, run the command line, exit with its code.
//! Everything else lives in the library so tests can reach it.

fn main() {
    // rustls needs one process-wide crypto provider; ring is the only one compiled in.
    let _ = rustls::crypto::ring::default_provider().install_default();
    std::process::exit(doctor::cli::run());
}
