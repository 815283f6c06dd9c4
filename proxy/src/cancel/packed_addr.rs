//! A socket address in 19 bytes (a `std::net::SocketAddr` takes 32, an
//! `Option` of one as many): what every client's slot keeps of its two
//! ends for `SHOW CLIENTS`. An IPv6 address keeps no flow label or scope.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// No address, an IPv4 or an IPv6 one, with its port.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PackedAddr {
    /// 0: none, 4: IPv4 (in the first four bytes), 6: IPv6.
    family: u8,
    ip: [u8; 16],
    port: [u8; 2],
}

impl PackedAddr {
    /// Packs `addr` (none stays none).
    pub fn new(addr: Option<SocketAddr>) -> PackedAddr {
        let Some(addr) = addr else {
            return PackedAddr::default();
        };
        let mut ip = [0u8; 16];
        let family = match addr.ip() {
            IpAddr::V4(v4) => {
                ip[..4].copy_from_slice(&v4.octets());
                4
            }
            IpAddr::V6(v6) => {
                ip = v6.octets();
                6
            }
        };
        PackedAddr {
            family,
            ip,
            port: addr.port().to_be_bytes(),
        }
    }

    /// The address, if there is one.
    pub fn get(&self) -> Option<SocketAddr> {
        let ip = match self.family {
            4 => IpAddr::V4(Ipv4Addr::new(
                self.ip[0], self.ip[1], self.ip[2], self.ip[3],
            )),
            6 => IpAddr::V6(Ipv6Addr::from(self.ip)),
            _ => return None,
        };
        Some(SocketAddr::new(ip, u16::from_be_bytes(self.port)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_both_families_and_none() {
        for text in [
            "127.0.0.1:6432",
            "[::1]:5432",
            "[2001:db8::7]:65535",
            "0.0.0.0:0",
        ] {
            let addr: SocketAddr = text.parse().unwrap();
            assert_eq!(PackedAddr::new(Some(addr)).get(), Some(addr), "{text}");
        }
        assert_eq!(PackedAddr::new(None).get(), None);
        assert_eq!(std::mem::size_of::<PackedAddr>(), 19);
    }
}
