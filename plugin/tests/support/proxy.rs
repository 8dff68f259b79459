//! A loopback HTTP proxy that injects faults: for request number `n` (from 1) the plan
//! says pass it to the upstream, answer with an error status, stall past the client's
//! timeout, or drop the connection. One request per connection (it answers
//! `Connection: close`), so every retry is a new request it can see.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Pass,
    Status(u16),
    Stall(Duration),
    Drop,
}

pub struct FaultProxy {
    pub port: u16,
    /// The most requests in flight at once.
    pub max_in_flight: Arc<AtomicU64>,
    pub requests: Arc<AtomicU64>,
    pub faults: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl FaultProxy {
    pub fn start(upstream: u16, plan: fn(u64) -> Fault) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let requests = Arc::new(AtomicU64::new(0));
        let faults = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let max_in_flight = Arc::new(AtomicU64::new(0));
        let in_flight = Arc::new(AtomicU64::new(0));
        let (r, f, s, m) = (
            requests.clone(),
            faults.clone(),
            stop.clone(),
            max_in_flight.clone(),
        );
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let n = r.fetch_add(1, Ordering::Relaxed) + 1;
                        let fault = plan(n);
                        if fault != Fault::Pass {
                            f.fetch_add(1, Ordering::Relaxed);
                        }
                        let (now, max) = (in_flight.clone(), m.clone());
                        std::thread::spawn(move || {
                            let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                            max.fetch_max(n, Ordering::SeqCst);
                            serve(conn, upstream, fault);
                            now.fetch_sub(1, Ordering::SeqCst);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        FaultProxy {
            port,
            max_in_flight,
            requests,
            faults,
            stop,
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn read_request(conn: &mut TcpStream) -> Option<Vec<u8>> {
    conn.set_nonblocking(false).ok()?;
    conn.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = conn.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = conn.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    // Ask the upstream to close after its answer, so reading to the end gets it whole.
    let mut out = Vec::new();
    for line in head.split("\r\n") {
        if line.is_empty() || line.to_ascii_lowercase().starts_with("connection:") {
            continue;
        }
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    out.extend_from_slice(&buf[head_end..head_end + len]);
    Some(out)
}

fn serve(mut conn: TcpStream, upstream: u16, fault: Fault) {
    let Some(req) = read_request(&mut conn) else {
        return;
    };
    match fault {
        Fault::Pass => {
            // A little latency, so that concurrent requests overlap visibly.
            std::thread::sleep(Duration::from_millis(20));
            let Ok(mut up) = TcpStream::connect(("127.0.0.1", upstream)) else {
                return;
            };
            if up.write_all(&req).is_err() {
                return;
            }
            let mut resp = Vec::new();
            let _ = up.read_to_end(&mut resp);
            let _ = conn.write_all(&resp);
        }
        Fault::Status(s) => {
            let _ = write!(
                conn,
                "HTTP/1.1 {s} Injected\r\nContent-Type: application/xml\r\nConnection: close\r\nContent-Length: 79\r\n\r\n<?xml version=\"1.0\"?><Error><Code>ServerBusy</Code><Message>x</Message></Error>"
            );
        }
        Fault::Stall(d) => std::thread::sleep(d),
        Fault::Drop => {}
    }
    let _ = conn.shutdown(Shutdown::Both);
}
