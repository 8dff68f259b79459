//! A flow-log writer that builds `PT1H.json` as Azure does: Put Block per record, then Put
//! Block List with head, records and tail, once per simulated minute. Records are NSG v2
//! (or VNet) records with a few tuples each; every tuple carries a unique source port so a
//! test can count each event.

use std::collections::BTreeMap;

use nsgflow::blob::client::BlobClient;
use nsgflow::blob::config::{NSG_CONTAINER, VNET_CONTAINER};

/// A small deterministic random source (splitmix64); print the seed to replay a run.
pub struct Rng(pub u64);

impl Rng {
    pub fn from_env_or_time() -> Rng {
        let seed = std::env::var("NSGFLOW_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            });
        eprintln!("random seed {seed} (NSGFLOW_TEST_SEED={seed} replays it)");
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut x = self.0;
        x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        x ^ (x >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// A UTC hour: (year, month, day, hour) and its start in seconds since the epoch.
#[derive(Debug, Clone, Copy)]
pub struct Hour {
    pub y: i64,
    pub m: u32,
    pub d: u32,
    pub h: u64,
    pub start: u64,
}

impl Hour {
    pub fn of(unix_secs: u64) -> Hour {
        let hour = unix_secs / 3600;
        let (y, m, d) = nsgflow::time::civil_from_days((hour / 24) as i64);
        Hour {
            y,
            m,
            d,
            h: hour % 24,
            start: hour * 3600,
        }
    }
    pub fn now_minus(hours: u64) -> Hour {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        Hour::of(now - hours * 3600)
    }
    pub fn path(&self) -> String {
        format!(
            "y={}/m={:02}/d={:02}/h={:02}/m=00",
            self.y, self.m, self.d, self.h
        )
    }
    pub fn rfc3339(&self, minute: u64, second: u64) -> String {
        format!(
            "{}-{:02}-{:02}T{:02}:{:02}:{:02}.1174520Z",
            self.y, self.m, self.d, self.h, minute, second
        )
    }
}

/// Which flow-log product a blob belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Nsg,
    Vnet,
}

/// One blob being written.
pub struct BlobWriter {
    pub container: String,
    pub blob: String,
    pub kind: Kind,
    pub mac: String,
    pub hour: Hour,
    /// Committed record block IDs, in order, with their text.
    pub records: Vec<(String, String)>,
    next_id: u64,
    /// Distinguishes this blob's source ports from other blobs'.
    pub port_base: u32,
    /// Every event key (mac, src_port) written, with its record's minute.
    pub events: BTreeMap<(String, u32), u64>,
    /// Bytes of the blob as last committed.
    pub committed_bytes: u64,
}

pub const NSG_RESOURCE: &str = "/SUBSCRIPTIONS/7C4E2B19-3F8A-4D6E-9B21-5A0C8E7F3D42/RESOURCEGROUPS/RG-SHOP-PROD/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/NSG-SHOP-API";
pub const FLOW_LOG_RESOURCE: &str = "/SUBSCRIPTIONS/7C4E2B19-3F8A-4D6E-9B21-5A0C8E7F3D42/RESOURCEGROUPS/NETWORKWATCHERRG/PROVIDERS/MICROSOFT.NETWORK/NETWORKWATCHERS/NETWORKWATCHER_WESTEUROPE/FLOWLOGS/FL-VNET-SHOP-PROD-WEU";

fn id(kind: &str, n: u64) -> String {
    // Azure requires the IDs of one blob to have the same length.
    format!("{kind}-{n:010}")
}

impl BlobWriter {
    pub fn new(kind: Kind, hour: Hour, mac: &str, port_base: u32) -> BlobWriter {
        let (container, blob) = match kind {
            Kind::Nsg => (
                NSG_CONTAINER,
                format!(
                    "resourceId={NSG_RESOURCE}/{}/macAddress={mac}/PT1H.json",
                    hour.path()
                ),
            ),
            Kind::Vnet => (
                VNET_CONTAINER,
                format!(
                    "flowLogResourceID={FLOW_LOG_RESOURCE}/{}/macAddress={mac}/PT1H.json",
                    hour.path()
                ),
            ),
        };
        BlobWriter {
            container: container.into(),
            blob,
            kind,
            mac: mac.into(),
            hour,
            records: Vec::new(),
            next_id: 0,
            port_base,
            events: BTreeMap::new(),
            committed_bytes: 0,
        }
    }

    /// The record for `minute`, with `tuples` tuples whose source ports are unique.
    pub fn record(&mut self, minute: u64, tuples: u32) -> String {
        let t0 = self.hour.start + minute * 60;
        let mut list = Vec::new();
        for i in 0..tuples {
            let port = self.port_base + (minute as u32) * 100 + i;
            self.events.insert((self.mac.clone(), port), minute);
            let ts = t0 + 3 + u64::from(i);
            list.push(match self.kind {
                Kind::Nsg => format!(
                    "\"{ts},10.20.2.5,20.60.140.{},{port},443,T,O,A,E,{},{},{},{}\"",
                    i % 250,
                    10 + i,
                    1500 + i * 7,
                    9 + i,
                    9000 + i * 11
                ),
                Kind::Vnet => format!(
                    "\"{}000,10.20.3.6,52.239.152.{},{port},443,6,O,E,NX,{},{},{},{}\"",
                    ts,
                    i % 250,
                    4 + i,
                    600 + i,
                    5 + i,
                    7000 + i
                ),
            });
        }
        let time = self.hour.rfc3339(minute, 36);
        match self.kind {
            Kind::Nsg => format!(
                "{{\"time\":\"{time}\",\"systemId\":\"a2d94f17-5c3e-4b8a-9e61-0f7c3b25d8e4\",\"macAddress\":\"{mac}\",\"category\":\"NetworkSecurityGroupFlowEvent\",\"resourceId\":\"{NSG_RESOURCE}\",\"operationName\":\"NetworkSecurityGroupFlowEvents\",\"properties\":{{\"Version\":2,\"flows\":[{{\"rule\":\"DefaultRule_AllowInternetOutBound\",\"flows\":[{{\"mac\":\"{mac}\",\"flowTuples\":[{}]}}]}}]}}}}",
                list.join(","),
                mac = self.mac
            ),
            Kind::Vnet => format!(
                "{{\"time\":\"{time}\",\"flowLogVersion\":4,\"flowLogGUID\":\"d7a3c1e5-8f26-4b90-a4d3-2e6f9b0c1a57\",\"macAddress\":\"{mac}\",\"category\":\"FlowLogFlowEvent\",\"flowLogResourceID\":\"{FLOW_LOG_RESOURCE}\",\"targetResourceID\":\"/subscriptions/7c4e2b19-3f8a-4d6e-9b21-5a0c8e7f3d42/resourceGroups/rg-shop-prod/providers/Microsoft.Network/virtualNetworks/vnet-shop-prod-weu\",\"operationName\":\"FlowLogFlowEvent\",\"flowRecords\":{{\"flows\":[{{\"aclID\":\"9f1e6c2b-7d48-4a35-b8e0-51c3a9d7f264\",\"flowGroups\":[{{\"rule\":\"DefaultRule_AllowInternetOutBound\",\"flowTuples\":[{}]}}]}}]}}}}",
                list.join(","),
                mac = self.mac
            ),
        }
    }

    /// One simulated minute: Put Block for the record, then Put Block List with the head,
    /// every record and the tail.
    pub fn minute(&mut self, c: &BlobClient, minute: u64, tuples: u32) {
        let rec = self.record(minute, tuples);
        self.append(c, rec);
    }

    /// Appends one record (its JSON text) as Azure does: Put Block, then Put Block List
    /// with the head, every record and the tail.
    pub fn append(&mut self, c: &BlobClient, rec: String) {
        let text = if self.records.is_empty() {
            rec
        } else {
            format!(",{rec}")
        };
        self.next_id += 1;
        let rid = id("rec", self.next_id);
        c.put_block(&self.container, &self.blob, &rid, text.as_bytes())
            .unwrap();
        self.records.push((rid, text));
        if self.records.len() == 1 {
            c.put_block(
                &self.container,
                &self.blob,
                &id("hed", 0),
                b"{\"records\":[",
            )
            .unwrap();
            c.put_block(&self.container, &self.blob, &id("tal", 0), b"]}")
                .unwrap();
        }
        self.commit(c);
    }

    /// Commits head, the current records and tail.
    pub fn commit(&mut self, c: &BlobClient) {
        let hed = id("hed", 0);
        let tal = id("tal", 0);
        let mut ids: Vec<&str> = vec![hed.as_str()];
        ids.extend(self.records.iter().map(|(i, _)| i.as_str()));
        ids.push(tal.as_str());
        c.put_block_list(&self.container, &self.blob, &ids).unwrap();
        self.committed_bytes = 14
            + self
                .records
                .iter()
                .map(|(_, t)| t.len() as u64)
                .sum::<u64>();
    }

    /// Uploads `text` as a new record block (its own ID) without committing it.
    pub fn stage(&mut self, c: &BlobClient, text: String) -> String {
        self.next_id += 1;
        let rid = id("rec", self.next_id);
        c.put_block(&self.container, &self.blob, &rid, text.as_bytes())
            .unwrap();
        rid
    }
}

/// Counts events in NDJSON output by (mac, src_port); lines that are cut off (a process
/// killed mid-write) are counted apart.
pub fn count_events(ndjson: &str) -> (BTreeMap<(String, u32), u32>, usize) {
    let mut seen = BTreeMap::new();
    let mut cut = 0;
    for line in ndjson.split_inclusive('\n') {
        if !line.ends_with('\n') {
            cut += 1;
            continue;
        }
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("bad line {e}: {line}"));
        let mac = v["mac"].as_str().unwrap().replace('-', "");
        let port = v["src_port"].as_u64().unwrap() as u32;
        *seen.entry((mac, port)).or_insert(0) += 1;
    }
    (seen, cut)
}
