//! Networking between the stack's containers (NET001) and from this host into them (NET002),
//! judged from the engine's view of networks, aliases, published ports and listening sockets.

pub mod net001_services_cannot_reach_each_other;
pub mod net002_host_cannot_reach_container;

use crate::facts::of::docker::{ContainerFacts, Listener};

/// How a container listens on `port`: on every address, only on its loopback, or not at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listening {
    Everywhere,
    LoopbackOnly,
    No,
    /// The sockets could not be read (no `cat` in the image, exec refused...).
    Unknown,
}

pub fn listening_on(c: &ContainerFacts, port: u16) -> Listening {
    match &c.listening {
        Some(Ok(list)) => {
            let on: Vec<&Listener> = list.iter().filter(|l| l.port == port).collect();
            if on.is_empty() {
                Listening::No
            } else if on.iter().all(|l| l.addr.starts_with("127.") || l.addr == "::1") {
                Listening::LoopbackOnly
            } else {
                Listening::Everywhere
            }
        }
        _ => Listening::Unknown,
    }
}
