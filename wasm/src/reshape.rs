//! A flat event (nsgflow's own schema, `docs/schema.md`) turned back into the one-tuple
//! flow-log record it came from, so the engine's ECS, Splunk or OCSF encoder can render
//! it. The flat schema keeps everything the record and tuple said: the tuple is rebuilt
//! field by field (letters and numbers from the labels), the record from the resource IDs
//! and times. The address classes and networks of the flat event are kept (they may come
//! from a config the re-shaping module does not have).
//!
//! ```
//! let flat = r#"{"timestamp":"2018-11-13T11:59:39.000Z","src_ip":"10.5.16.4","src_port":59932,"dst_ip":"13.67.143.117","dst_port":443,"protocol":"tcp","iana_number":6,"direction":"outbound","action":"allow","flow_state":"end","packets_src_to_dst":1,"bytes_src_to_dst":66,"packets_dst_to_src":1,"bytes_dst_to_src":66,"src_class":"private","dst_class":"public","rule":"R","mac":"00-0D-3A-F8-78-56","flow_log_kind":"nsg","flow_log_version":2,"record_time":"2018-11-13T12:00:35.3899262Z"}"#;
//! let mut out = String::new();
//! let classes = nsgflow_wasm::reshape::record_from_flat(flat, &mut out).unwrap();
//! assert!(out.contains(r#""flowTuples":["1542110379,10.5.16.4,13.67.143.117,59932,443,T,O,A,E,1,66,1,66"]"#), "{out}");
//! assert_eq!(classes.src_class.as_deref(), Some("private"));
//! ```

use std::borrow::Cow;
use std::fmt::Write;

use nsgflow::encode::json::write_str;
use nsgflow::json::{JsonError, Scanner};
use nsgflow::time::days_from_civil;

/// The address classes and networks the flat event carried.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Classes<'a> {
    pub src_class: Option<Cow<'a, str>>,
    pub src_network: Option<Cow<'a, str>>,
    pub dst_class: Option<Cow<'a, str>>,
    pub dst_network: Option<Cow<'a, str>>,
}

#[derive(Default)]
struct Flat<'a> {
    strs: [Option<Cow<'a, str>>; STR_KEYS.len()],
    nums: [Option<u64>; NUM_KEYS.len()],
    classes: Classes<'a>,
}

const STR_KEYS: [&str; 18] = [
    "timestamp",
    "src_ip",
    "dst_ip",
    "direction",
    "action",
    "flow_state",
    "encryption",
    "rule",
    "acl_id",
    "mac",
    "flow_log_kind",
    "record_time",
    "resource_id",
    "flow_log_resource_id",
    "target_resource_id",
    "system_id",
    "flow_log_guid",
    "protocol",
];
const NUM_KEYS: [&str; 8] = [
    "src_port",
    "dst_port",
    "iana_number",
    "packets_src_to_dst",
    "bytes_src_to_dst",
    "packets_dst_to_src",
    "bytes_dst_to_src",
    "flow_log_version",
];

impl<'a> Flat<'a> {
    fn s(&self, key: &str) -> Option<&str> {
        let i = STR_KEYS.iter().position(|k| *k == key)?;
        self.strs[i].as_deref()
    }

    fn n(&self, key: &str) -> Option<u64> {
        let i = NUM_KEYS.iter().position(|k| *k == key)?;
        self.nums[i]
    }

    fn need_s(&self, key: &str) -> Result<&str, String> {
        self.s(key)
            .ok_or_else(|| format!("the flat event has no `{key}` string"))
    }

    fn need_n(&self, key: &str) -> Result<u64, String> {
        self.n(key)
            .ok_or_else(|| format!("the flat event has no `{key}` number"))
    }
}

fn parse(flat: &str) -> Result<Flat<'_>, String> {
    let bad = |e: JsonError| format!("the flat event is not valid JSON: {e}");
    let mut f = Flat::default();
    let mut sc = Scanner::new(flat);
    sc.begin_object()
        .map_err(|_| "expected a JSON object (a flat nsgflow event)".to_string())?;
    let mut first = true;
    while let Some(key) = sc.next_key(first).map_err(bad)? {
        first = false;
        let slot = match key.as_ref() {
            "src_class" => Some(&mut f.classes.src_class),
            "src_network" => Some(&mut f.classes.src_network),
            "dst_class" => Some(&mut f.classes.dst_class),
            "dst_network" => Some(&mut f.classes.dst_network),
            k => STR_KEYS
                .iter()
                .position(|s| *s == k)
                .map(|i| &mut f.strs[i]),
        };
        if let Some(slot) = slot {
            if sc.peek() == Some(b'"') {
                *slot = Some(sc.string().map_err(bad)?);
                continue;
            }
        } else if let Some(i) = NUM_KEYS.iter().position(|s| *s == key.as_ref()) {
            if matches!(sc.peek(), Some(b'0'..=b'9')) {
                f.nums[i] = Some(sc.u64().map_err(bad)?);
                continue;
            }
        }
        sc.skip_value().map_err(bad)?;
    }
    if !sc.at_end() {
        return Err(format!(
            "text after the event's closing brace at byte {}",
            sc.pos()
        ));
    }
    Ok(f)
}

/// `2018-11-13T11:59:39.000Z` (what the flat encoder writes) to Unix milliseconds.
pub fn parse_timestamp_ms(ts: &str) -> Option<u64> {
    let b = ts.as_bytes();
    if b.len() != 24
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'.'
        || b[23] != b'Z'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = ts.get(r)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s, ms) = (num(11..13)?, num(14..16)?, num(17..19)?, num(20..23)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let days = days_from_civil(y, mo as u32, d as u32);
    let total = ((days * 24 + h) * 60 + mi) * 60 + s;
    u64::try_from(total * 1000 + ms).ok()
}

/// Rebuilds into `out` (cleared first) the one-tuple record of flat event `flat`; returns
/// the classes it carried.
pub fn record_from_flat<'a>(flat: &'a str, out: &mut String) -> Result<Classes<'a>, String> {
    out.clear();
    let f = parse(flat)?;
    let kind = f.need_s("flow_log_kind")?;
    let version = f.need_n("flow_log_version")?;
    let ts = f.need_s("timestamp")?;
    let ms = parse_timestamp_ms(ts)
        .ok_or_else(|| format!("`timestamp` `{ts}` is not like 2018-11-13T11:59:39.000Z"))?;
    let direction = match f.need_s("direction")? {
        "inbound" => "I",
        "outbound" => "O",
        d => return Err(format!("`direction` `{d}` is not inbound or outbound")),
    };
    let action = f.need_s("action")?;
    let state = match f.s("flow_state") {
        None => None,
        Some("begin") => Some("B"),
        Some("continue") => Some("C"),
        Some("end") => Some("E"),
        Some("deny") => Some("D"),
        Some(s) => {
            return Err(format!(
                "`flow_state` `{s}` is not begin, continue, end or deny"
            ))
        }
    };
    let iana = f.need_n("iana_number")?;
    let counter = |k: &str| f.n(k).map(|v| v.to_string()).unwrap_or_default();
    let counters = format!(
        "{},{},{},{}",
        counter("packets_src_to_dst"),
        counter("bytes_src_to_dst"),
        counter("packets_dst_to_src"),
        counter("bytes_dst_to_src")
    );
    let mut tuple = String::with_capacity(96);
    let src = f.need_s("src_ip")?;
    let dst = f.need_s("dst_ip")?;
    let (sp, dp) = (f.need_n("src_port")?, f.need_n("dst_port")?);
    let vnet = match kind {
        "nsg" => {
            let proto = match iana {
                6 => "T",
                17 => "U",
                n => {
                    return Err(format!(
                        "NSG flow logs carry TCP or UDP only, not IANA protocol {n}"
                    ))
                }
            };
            let decision = match action {
                "allow" => "A",
                "deny" => "D",
                a => return Err(format!("`action` `{a}` is not allow or deny")),
            };
            let _ = write!(
                tuple,
                "{},{src},{dst},{sp},{dp},{proto},{direction},{decision}",
                ms / 1000
            );
            if version >= 2 {
                let _ = write!(tuple, ",{},{counters}", state.unwrap_or(""));
            }
            false
        }
        "vnet" => {
            let enc = f.s("encryption").unwrap_or("");
            let _ = write!(
                tuple,
                "{ms},{src},{dst},{sp},{dp},{iana},{direction},{},{enc},{counters}",
                state.unwrap_or("")
            );
            true
        }
        k => return Err(format!("`flow_log_kind` `{k}` is not nsg or vnet")),
    };
    let mut o = Vec::with_capacity(512);
    o.push(b'{');
    let field = |o: &mut Vec<u8>, key: &str, v: Option<&str>| {
        if let Some(v) = v {
            if o.len() > 1 {
                o.push(b',');
            }
            write_str(o, key);
            o.push(b':');
            write_str(o, v);
        }
    };
    field(&mut o, "time", f.s("record_time"));
    field(&mut o, "systemId", f.s("system_id"));
    field(&mut o, "resourceId", f.s("resource_id"));
    field(&mut o, "flowLogGUID", f.s("flow_log_guid"));
    field(&mut o, "flowLogResourceID", f.s("flow_log_resource_id"));
    field(&mut o, "targetResourceID", f.s("target_resource_id"));
    let rule = f.s("rule").unwrap_or("");
    // The flat `mac` is the IEEE form; Azure writes 12 bare hex digits (upper case as a
    // rule), which ECS, Splunk and OCSF keep as written.
    let bare_mac = f.s("mac").map(|m| m.replace('-', ""));
    let mac = bare_mac.as_deref();
    if vnet {
        field(&mut o, "macAddress", mac);
        o.extend_from_slice(b",\"category\":\"FlowLogFlowEvent\",\"flowLogVersion\":");
        o.extend_from_slice(version.to_string().as_bytes());
        o.extend_from_slice(b",\"flowRecords\":{\"flows\":[{");
        if let Some(acl) = f.s("acl_id") {
            o.extend_from_slice(b"\"aclID\":");
            write_str(&mut o, acl);
            o.push(b',');
        }
        o.extend_from_slice(b"\"flowGroups\":[{\"rule\":");
        write_str(&mut o, rule);
        o.extend_from_slice(b",\"flowTuples\":[");
        write_str(&mut o, &tuple);
        o.extend_from_slice(b"]}]}]}}");
    } else {
        if o.len() > 1 {
            o.push(b',');
        }
        o.extend_from_slice(
            b"\"category\":\"NetworkSecurityGroupFlowEvent\",\"properties\":{\"Version\":",
        );
        o.extend_from_slice(version.to_string().as_bytes());
        o.extend_from_slice(b",\"flows\":[{\"rule\":");
        write_str(&mut o, rule);
        o.extend_from_slice(b",\"flows\":[{");
        if let Some(mac) = mac {
            o.extend_from_slice(b"\"mac\":");
            write_str(&mut o, mac);
            o.push(b',');
        }
        o.extend_from_slice(b"\"flowTuples\":[");
        write_str(&mut o, &tuple);
        o.extend_from_slice(b"]}]}]}}");
    }
    // Every piece is a JSON literal or `write_str` output, so this is UTF-8.
    out.push_str(&String::from_utf8_lossy(&o));
    Ok(f.classes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp_ms("1970-01-01T00:00:00.000Z"), Some(0));
        assert_eq!(
            parse_timestamp_ms("2022-09-14T09:00:03.606Z"),
            Some(1_663_146_003_606)
        );
        for bad in [
            "",
            "2022-09-14T09:00:03Z",
            "2022-13-14T09:00:03.606Z",
            "2022-09-14T09:00:03.6x6Z",
        ] {
            assert_eq!(parse_timestamp_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn errors_name_the_field() {
        let mut out = String::new();
        let e = record_from_flat(r#"{"flow_log_kind":"nsg"}"#, &mut out).unwrap_err();
        assert!(e.contains("flow_log_version"), "{e}");
        let e = record_from_flat("[]", &mut out).unwrap_err();
        assert!(e.contains("JSON object"), "{e}");
    }
}
