//! One SRV lookup against one DNS server: the query, the answer, and the
//! targets' addresses.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use simple_dns::rdata::RData;
use simple_dns::{CLASS, Name, Packet, PacketFlag, QCLASS, QTYPE, Question, RCODE, TYPE};

use super::DnsError;

/// Where lookups go and how long they may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resolver {
    server: SocketAddr,
    timeout: Duration,
}

/// Query IDs: distinct per query in this process, so a late answer to an
/// earlier query is never taken for the current one.
static NEXT_ID: AtomicU16 = AtomicU16::new(0x5eed);

impl Resolver {
    /// Asks the DNS server at `server` (address and port), giving each
    /// query `timeout` to be answered.
    pub fn new(server: SocketAddr, timeout: Duration) -> Resolver {
        Resolver { server, timeout }
    }

    /// The server asked.
    pub fn server(&self) -> SocketAddr {
        self.server
    }

    /// The instances `name`'s SRV records point at: each target's
    /// addresses (from the answer's additional section, else asked for)
    /// with the record's port, as `host:port`, sorted. A target with no
    /// address is given by name. Priorities and weights are ignored, as Go
    /// kit ignores them.
    pub fn lookup_srv(&self, name: &str) -> Result<Vec<String>, DnsError> {
        let reply = self.query(name, TYPE::SRV)?;
        let packet = parse(&reply)?;
        let mut targets = Vec::new();
        for record in &packet.answers {
            if let RData::SRV(srv) = &record.rdata {
                let target = srv.target.to_string();
                // A target of "." says the service is not offered here
                // (RFC 2782): a record that names no instance.
                if target.is_empty() || target == "." {
                    continue;
                }
                if srv.port == 0 {
                    return Err(DnsError::PortZero(name.to_owned()));
                }
                targets.push((target, srv.port));
            }
        }
        if targets.is_empty() {
            return Err(DnsError::NoRecords(name.to_owned()));
        }
        let mut instances = BTreeSet::new();
        for (target, port) in targets {
            let mut addrs = addresses(&packet.additional_records, &target);
            if addrs.is_empty() {
                addrs = self.lookup_addresses(&target)?;
            }
            if addrs.is_empty() {
                instances.insert(format!("{target}:{port}"));
            }
            for ip in addrs {
                instances.insert(SocketAddr::new(ip, port).to_string());
            }
        }
        Ok(instances.into_iter().collect())
    }

    /// `host`'s A records, else its AAAA records; none if the server
    /// knows none (a server that cannot be asked is an error).
    fn lookup_addresses(&self, host: &str) -> Result<Vec<IpAddr>, DnsError> {
        for kind in [TYPE::A, TYPE::AAAA] {
            let reply = match self.query(host, kind) {
                Ok(reply) => reply,
                Err(DnsError::NoSuchName(_) | DnsError::Refused(..)) => continue,
                Err(e) => return Err(e),
            };
            let packet = parse(&reply)?;
            let found = addresses(&packet.answers, host);
            if !found.is_empty() {
                return Ok(found);
            }
        }
        Ok(Vec::new())
    }

    /// Sends one question and returns the reply's bytes: over UDP, and
    /// again over TCP if the UDP answer was truncated.
    fn query(&self, name: &str, kind: TYPE) -> Result<Vec<u8>, DnsError> {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let mut query = Packet::new_query(id);
        query.set_flags(PacketFlag::RECURSION_DESIRED);
        let qname = Name::new(name).map_err(|_| DnsError::BadName(name.to_owned()))?;
        query.questions.push(Question::new(
            qname,
            QTYPE::TYPE(kind),
            QCLASS::CLASS(CLASS::IN),
            false,
        ));
        let bytes = query
            .build_bytes_vec()
            .map_err(|_| DnsError::BadName(name.to_owned()))?;
        let reply = self.over_udp(id, &bytes)?;
        let truncated = Packet::parse(&reply).is_ok_and(|p| p.has_flags(PacketFlag::TRUNCATION));
        let reply = if truncated {
            self.over_tcp(id, &bytes)?
        } else {
            reply
        };
        let packet = parse(&reply)?;
        match packet.rcode() {
            RCODE::NoError => Ok(reply),
            RCODE::NameError => Err(DnsError::NoSuchName(name.to_owned())),
            other => Err(DnsError::Refused(name.to_owned(), format!("{other:?}"))),
        }
    }

    fn over_udp(&self, id: u16, query: &[u8]) -> Result<Vec<u8>, DnsError> {
        let any: IpAddr = match self.server {
            SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
            SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
        };
        let io = |e: std::io::Error| DnsError::Io(self.server, e.to_string());
        let socket = UdpSocket::bind((any, 0)).map_err(io)?;
        socket.connect(self.server).map_err(io)?;
        socket.send(query).map_err(io)?;
        let deadline = Instant::now() + self.timeout;
        let mut buf = vec![0; 65_535];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(DnsError::Timeout(self.server, self.timeout));
            }
            socket.set_read_timeout(Some(left)).map_err(io)?;
            let n = match socket.recv(&mut buf) {
                Ok(n) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(DnsError::Timeout(self.server, self.timeout));
                }
                Err(e) => return Err(io(e)),
            };
            // Anything but the answer to this query (a stray or forged
            // datagram) is ignored.
            if n >= 2 && u16::from_be_bytes([buf[0], buf[1]]) == id {
                buf.truncate(n);
                return Ok(buf);
            }
        }
    }

    fn over_tcp(&self, id: u16, query: &[u8]) -> Result<Vec<u8>, DnsError> {
        let io = |e: std::io::Error| DnsError::Io(self.server, e.to_string());
        let timeout = |e: std::io::Error| match e.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
                DnsError::Timeout(self.server, self.timeout)
            }
            _ => io(e),
        };
        let mut stream = TcpStream::connect_timeout(&self.server, self.timeout).map_err(timeout)?;
        stream.set_read_timeout(Some(self.timeout)).map_err(io)?;
        stream.set_write_timeout(Some(self.timeout)).map_err(io)?;
        let len =
            u16::try_from(query.len()).map_err(|_| DnsError::Malformed("query too long".into()))?;
        let mut framed = len.to_be_bytes().to_vec();
        framed.extend_from_slice(query);
        stream.write_all(&framed).map_err(timeout)?;
        let mut len = [0; 2];
        stream.read_exact(&mut len).map_err(timeout)?;
        let mut reply = vec![0; usize::from(u16::from_be_bytes(len))];
        stream.read_exact(&mut reply).map_err(timeout)?;
        if reply.len() < 2 || u16::from_be_bytes([reply[0], reply[1]]) != id {
            return Err(DnsError::Malformed("a TCP answer to another query".into()));
        }
        Ok(reply)
    }
}

fn parse(bytes: &[u8]) -> Result<Packet<'_>, DnsError> {
    Packet::parse(bytes).map_err(|e| DnsError::Malformed(e.to_string()))
}

/// The A and AAAA records for `host` among `records`.
fn addresses(records: &[simple_dns::ResourceRecord<'_>], host: &str) -> Vec<IpAddr> {
    let mut found = Vec::new();
    for record in records {
        if !record.name.to_string().eq_ignore_ascii_case(host) {
            continue;
        }
        match &record.rdata {
            RData::A(a) => found.push(IpAddr::from(Ipv4Addr::from(a.address))),
            RData::AAAA(aaaa) => found.push(IpAddr::from(Ipv6Addr::from(aaaa.address))),
            _ => {}
        }
    }
    found
}
