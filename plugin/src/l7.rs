//! The application protocol a flow most likely carries, guessed from its destination port,
//! as Azure Traffic Analytics does (its `L7Protocol` column).
//!
//! A guess, not an inspection: port 443 is labelled `https` whatever really runs on it. Ports
//! not in [`L7_PORTS`] get no label. `docs/schema.md` prints the same table; a test keeps the
//! two in step.
//!
//! ```
//! use nsgflow::l7::l7_protocol;
//! use nsgflow::labels::Protocol;
//! assert_eq!(l7_protocol(Protocol::TCP, 3389), Some("rdp"));
//! assert_eq!(l7_protocol(Protocol::UDP, 53), Some("dns"));
//! assert_eq!(l7_protocol(Protocol::TCP, 59336), None);
//! ```

use crate::labels::Protocol;

/// Which transports a port entry applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Tcp,
    Udp,
    Both,
}

/// `(port, transport, label)`, sorted by port.
pub const L7_PORTS: &[(u16, Transport, &str)] = &[
    (20, Transport::Tcp, "ftp-data"),
    (21, Transport::Tcp, "ftp"),
    (22, Transport::Tcp, "ssh"),
    (23, Transport::Tcp, "telnet"),
    (25, Transport::Tcp, "smtp"),
    (53, Transport::Both, "dns"),
    (67, Transport::Udp, "dhcp"),
    (68, Transport::Udp, "dhcp"),
    (69, Transport::Udp, "tftp"),
    (80, Transport::Tcp, "http"),
    (88, Transport::Both, "kerberos"),
    (110, Transport::Tcp, "pop3"),
    (123, Transport::Udp, "ntp"),
    (135, Transport::Tcp, "msrpc"),
    (137, Transport::Udp, "netbios-ns"),
    (138, Transport::Udp, "netbios-dgm"),
    (139, Transport::Tcp, "netbios-ssn"),
    (143, Transport::Tcp, "imap"),
    (161, Transport::Udp, "snmp"),
    (162, Transport::Udp, "snmptrap"),
    (389, Transport::Both, "ldap"),
    (443, Transport::Tcp, "https"),
    (443, Transport::Udp, "quic"),
    (445, Transport::Tcp, "smb"),
    (465, Transport::Tcp, "smtps"),
    (500, Transport::Udp, "ike"),
    (514, Transport::Udp, "syslog"),
    (587, Transport::Tcp, "smtp"),
    (636, Transport::Tcp, "ldaps"),
    (993, Transport::Tcp, "imaps"),
    (995, Transport::Tcp, "pop3s"),
    (1433, Transport::Tcp, "mssql"),
    (1434, Transport::Udp, "mssql-browser"),
    (1521, Transport::Tcp, "oracle"),
    (1883, Transport::Tcp, "mqtt"),
    (2049, Transport::Both, "nfs"),
    (2375, Transport::Tcp, "docker"),
    (2376, Transport::Tcp, "docker-tls"),
    (3268, Transport::Tcp, "ldap-gc"),
    (3306, Transport::Tcp, "mysql"),
    (3389, Transport::Both, "rdp"),
    (4500, Transport::Udp, "ipsec-nat-t"),
    (5060, Transport::Both, "sip"),
    (5432, Transport::Tcp, "postgresql"),
    (5671, Transport::Tcp, "amqps"),
    (5672, Transport::Tcp, "amqp"),
    (5985, Transport::Tcp, "winrm"),
    (5986, Transport::Tcp, "winrm-https"),
    (6379, Transport::Tcp, "redis"),
    (6443, Transport::Tcp, "kubernetes-api"),
    (8080, Transport::Tcp, "http-alt"),
    (8443, Transport::Tcp, "https-alt"),
    (8883, Transport::Tcp, "mqtts"),
    (9092, Transport::Tcp, "kafka"),
    (9200, Transport::Tcp, "elasticsearch"),
    (10250, Transport::Tcp, "kubelet"),
    (27017, Transport::Tcp, "mongodb"),
];

/// Index (1-based, 0 for none) into [`L7_PORTS`] for each TCP and UDP port, built at
/// compile time: a lookup is one load, not a search.
static BY_PORT: [[u8; 65536]; 2] = build_index();

const fn build_index() -> [[u8; 65536]; 2] {
    assert!(L7_PORTS.len() < 255);
    let mut index = [[0u8; 65536]; 2];
    let mut i = L7_PORTS.len();
    // Walk backwards so the first entry for a port and transport wins.
    while i > 0 {
        i -= 1;
        let (port, transport, _) = L7_PORTS[i];
        let (tcp, udp) = match transport {
            Transport::Tcp => (true, false),
            Transport::Udp => (false, true),
            Transport::Both => (true, true),
        };
        if tcp {
            index[0][port as usize] = (i + 1) as u8;
        }
        if udp {
            index[1][port as usize] = (i + 1) as u8;
        }
    }
    index
}

/// The L7 label for a flow to `dst_port` over `protocol`, if the port is a known one.
#[inline]
pub fn l7_protocol(protocol: Protocol, dst_port: u16) -> Option<&'static str> {
    let table = match protocol {
        Protocol::TCP => &BY_PORT[0],
        Protocol::UDP => &BY_PORT[1],
        _ => return None,
    };
    match table[dst_port as usize] {
        0 => None,
        i => Some(L7_PORTS[i as usize - 1].2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_for_binary_search() {
        assert!(L7_PORTS.windows(2).all(|w| w[0].0 <= w[1].0));
    }

    #[test]
    fn index_agrees_with_a_search_of_the_table() {
        for port in 0..=u16::MAX {
            for (proto, tcp) in [(Protocol::TCP, true), (Protocol::UDP, false)] {
                let want = L7_PORTS
                    .iter()
                    .find(|&&(p, t, _)| {
                        p == port
                            && match t {
                                Transport::Both => true,
                                Transport::Tcp => tcp,
                                Transport::Udp => !tcp,
                            }
                    })
                    .map(|&(_, _, name)| name);
                assert_eq!(l7_protocol(proto, port), want, "{port}");
            }
        }
    }

    #[test]
    fn transport_matters() {
        assert_eq!(l7_protocol(Protocol::TCP, 443), Some("https"));
        assert_eq!(l7_protocol(Protocol::UDP, 443), Some("quic"));
        assert_eq!(l7_protocol(Protocol::UDP, 1433), None);
        assert_eq!(l7_protocol(Protocol::ICMP, 0), None);
        assert_eq!(l7_protocol(Protocol::UDP, 123), Some("ntp"));
    }
}
