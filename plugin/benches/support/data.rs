// Synthetic flow-log blobs shaped like real ones, shared by the benches and the allocation
// test (included with `include!`, so it has no crate of its own).
//
// A blob is `{"records":[...]}` on one line. Records alternate like a busy NIC's hour: NSG v2
// records (three rules, a MAC each) and every fourth record a VNet record (two aclIDs),
// about 50 tuples a record. Tuples mix B/C/E/D states, TCP/UDP, inbound/outbound, private and
// public peers, with counters on C/E tuples and empty (NSG) or zero (VNet) counters on B.

/// A small deterministic generator (xorshift64*), so every run sees the same blob.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

const PORTS: [u16; 8] = [443, 80, 22, 3389, 1433, 53, 8080, 5432];

fn public_ip(r: &mut Rng) -> String {
    format!(
        "{}.{}.{}.{}",
        [13, 20, 40, 52, 104, 185, 45, 89][r.below(8) as usize],
        r.below(256),
        r.below(256),
        1 + r.below(254)
    )
}

fn counters(r: &mut Rng) -> String {
    let p1 = 1 + r.below(500);
    let p2 = 1 + r.below(500);
    format!(
        "{},{},{},{}",
        p1,
        p1 * (60 + r.below(1400)),
        p2,
        p2 * (60 + r.below(1400))
    )
}

fn nsg_tuple(r: &mut Rng, ts: u64) -> String {
    let inbound = r.below(2) == 0;
    let (src, dst) = if inbound {
        (
            public_ip(r),
            format!("10.0.{}.{}", r.below(4), 4 + r.below(20)),
        )
    } else {
        (
            format!("10.0.{}.{}", r.below(4), 4 + r.below(20)),
            public_ip(r),
        )
    };
    let proto = if r.below(5) == 0 { "U" } else { "T" };
    let deny = inbound && r.below(3) == 0;
    let state = if deny {
        "B"
    } else {
        ["B", "C", "E"][r.below(3) as usize]
    };
    let c = if state == "B" {
        ",,,".to_string()
    } else {
        counters(r)
    };
    format!(
        "{},{},{},{},{},{},{},{},{},{}",
        ts - r.below(60),
        src,
        dst,
        1024 + r.below(60000),
        PORTS[r.below(8) as usize],
        proto,
        if inbound { "I" } else { "O" },
        if deny { "D" } else { "A" },
        state,
        c
    )
}

fn vnet_tuple(r: &mut Rng, ts: u64) -> String {
    let outbound = r.below(3) > 0;
    let (src, dst) = if outbound {
        (
            format!("10.1.{}.{}", r.below(4), 4 + r.below(20)),
            public_ip(r),
        )
    } else {
        (
            public_ip(r),
            format!("10.1.{}.{}", r.below(4), 4 + r.below(20)),
        )
    };
    let state = ["B", "C", "E", "D"][r.below(4) as usize];
    let c = if state == "B" || state == "D" {
        "0,0,0,0".to_string()
    } else {
        counters(r)
    };
    format!(
        "{},{},{},{},{},{},{},{},{},{}",
        ts * 1000 - r.below(60_000),
        src,
        dst,
        1024 + r.below(60000),
        PORTS[r.below(8) as usize],
        if r.below(5) == 0 { 17 } else { 6 },
        if outbound { "O" } else { "I" },
        state,
        ["NX", "X", "NX_HW_NOT_SUPPORTED"][r.below(3) as usize],
        c
    )
}

fn tuple_list(tuples: &[String]) -> String {
    let quoted: Vec<String> = tuples.iter().map(|t| format!("\"{t}\"")).collect();
    quoted.join(",")
}

/// A one-line blob of exactly `tuples` tuples, from 2026-03-02T10:00Z.
#[allow(dead_code)]
pub fn blob(tuples: usize, seed: u64) -> String {
    blob_records(tuples, seed, 1_772_445_600, |minute| {
        format!(
            "2026-03-02T{:02}:{:02}:35.3899262Z",
            10 + minute / 60 % 14,
            minute % 60
        )
    })
}

/// [`blob`] starting at `start` (epoch seconds, a whole minute). A blob of `n` tuples spans
/// at most `n / 40 + 1` minutes: starts that far apart give event time that moves on, as a
/// live stream's does (a replayed blob is all late for windowed detectors).
#[allow(dead_code)]
pub fn blob_at(tuples: usize, seed: u64, start: u64) -> String {
    blob_records(tuples, seed, start, |minute| {
        let mut buf = [0u8; 24];
        nsgflow::time::format_rfc3339_ms((start + minute * 60) * 1000 + 35_389, &mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

fn blob_records(tuples: usize, seed: u64, start: u64, time_of: impl Fn(u64) -> String) -> String {
    let mut r = Rng::new(seed);
    let mut records = Vec::new();
    let mut left = tuples;
    let mut minute = 0u64;
    while left > 0 {
        let ts = start + minute * 60;
        let time = time_of(minute);
        let n = left.min(40 + r.below(20) as usize);
        left -= n;
        if minute % 4 == 3 {
            let split = n / 2;
            let a: Vec<String> = (0..split).map(|_| vnet_tuple(&mut r, ts)).collect();
            let b: Vec<String> = (split..n).map(|_| vnet_tuple(&mut r, ts)).collect();
            records.push(format!(
                r#"{{"time":"{time}","flowLogVersion":4,"flowLogGUID":"d7a3c1e5-8f26-4b90-a4d3-2e6f9b0c1a57","macAddress":"6045BDA1C3F2","category":"FlowLogFlowEvent","flowLogResourceID":"/SUBSCRIPTIONS/7C4E2B19-3F8A-4D6E-9B21-5A0C8E7F3D42/RESOURCEGROUPS/NETWORKWATCHERRG/PROVIDERS/MICROSOFT.NETWORK/NETWORKWATCHERS/NETWORKWATCHER_WESTEUROPE/FLOWLOGS/FL-VNET-SHOP","targetResourceID":"/subscriptions/7c4e2b19-3f8a-4d6e-9b21-5a0c8e7f3d42/resourceGroups/rg-shop-prod/providers/Microsoft.Network/virtualNetworks/vnet-shop","operationName":"FlowLogFlowEvent","flowRecords":{{"flows":[{{"aclID":"/subscriptions/7c4e2b19-3f8a-4d6e-9b21-5a0c8e7f3d42/resourcegroups/rg-shop-prod/providers/microsoft.network/networksecuritygroups/nsg-shop-db","flowGroups":[{{"rule":"DefaultRule_AllowInternetOutBound","flowTuples":[{}]}}]}},{{"aclID":"9f1e6c2b-7d48-4a35-b8e0-51c3a9d7f264","flowGroups":[{{"rule":"Internet_4b9ac3d8-1d6f-4a4e-9b9e-3f1c5d2a7e10","flowTuples":[{}]}}]}}]}}}}"#,
                tuple_list(&a),
                tuple_list(&b)
            ));
        } else {
            let cut1 = n / 3;
            let cut2 = 2 * n / 3;
            let all: Vec<String> = (0..n).map(|_| nsg_tuple(&mut r, ts)).collect();
            let group = |rule: &str, t: &[String]| {
                format!(
                    r#"{{"rule":"{rule}","flows":[{{"mac":"0022489A4C17","flowTuples":[{}]}}]}}"#,
                    tuple_list(t)
                )
            };
            records.push(format!(
                r#"{{"time":"{time}","systemId":"3b8f6d2e-91c4-4a57-b0e3-6f2d8a14c975","macAddress":"0022489A4C17","category":"NetworkSecurityGroupFlowEvent","resourceId":"/SUBSCRIPTIONS/7C4E2B19-3F8A-4D6E-9B21-5A0C8E7F3D42/RESOURCEGROUPS/RG-SHOP-PROD/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/NSG-SHOP-WEB01","operationName":"NetworkSecurityGroupFlowEvents","properties":{{"Version":2,"flows":[{},{},{}]}}}}"#,
                group("DefaultRule_DenyAllInBound", &all[..cut1]),
                group("UserRule_allow-https-in", &all[cut1..cut2]),
                group("DefaultRule_AllowInternetOutBound", &all[cut2..])
            ));
        }
        minute += 1;
    }
    format!(r#"{{"records":[{}]}}"#, records.join(","))
}
