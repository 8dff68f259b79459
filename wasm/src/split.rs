//! The split-tuple record: one raw tuple with its record's metadata, as the Lua explode
//! script (`pipelines/fluent-bit/nsgflow_explode.lua`) or any other upstream split leaves
//! it, and its re-assembly into a one-tuple flow-log record for the engine to read.
//!
//! The shape: the record's own top-level fields (everything but `properties` /
//! `flowRecords`, names unchanged), plus
//!
//! | key | what | |
//! |---|---|---|
//! | `tuple` | the tuple string, as in `flowTuples` | always |
//! | `rule` | the flow group's rule | always |
//! | `version` | NSG `properties.Version` (1 or 2) | NSG |
//! | `mac` | the NSG flow group's `mac` | NSG |
//! | `aclID` | the VNet flow's `aclID` | VNet |
//!
//! ```json
//! {"time":"2018-11-13T12:00:35.3899262Z","systemId":"...","macAddress":"000D3AF87856",
//!  "category":"NetworkSecurityGroupFlowEvent","resourceId":"/SUBSCRIPTIONS/...",
//!  "operationName":"NetworkSecurityGroupFlowEvents","version":2,
//!  "rule":"DefaultRule_AllowInternetOutBound","mac":"000D3AF87856",
//!  "tuple":"1542110379,10.5.16.4,13.67.143.117,59932,443,T,O,A,E,1,66,1,66"}
//! ```
//!
//! A VNet record is told apart by its `flowLogVersion` (or its `category`). Values are
//! copied as raw JSON tokens (no decoding): the re-assembled record is the input's own
//! text plus the nesting around the tuple.
//!
//! ```
//! let rec = r#"{"time":"T","category":"NetworkSecurityGroupFlowEvent","version":2,"rule":"R","mac":"M","tuple":"1,a"}"#;
//! let mut out = String::new();
//! nsgflow_wasm::split::reassemble(rec, &mut out).unwrap();
//! assert_eq!(out, r#"{"time":"T","category":"NetworkSecurityGroupFlowEvent","version":2,"rule":"R","mac":"M","tuple":"1,a","properties":{"Version":2,"flows":[{"rule":"R","flows":[{"mac":"M","flowTuples":["1,a"]}]}]}}"#);
//! ```

use nsgflow::json::Scanner;
use nsgflow::record::VNET_CATEGORY;

/// The key a failed call adds to the record it returns (`filter`), and that an earlier
/// stage's dead letter already carries: reassembly notes it while reading the keys.
pub const ERROR_KEY: &str = "nsgflow_error";

/// Re-assembles the one-tuple record `rec` describes into `out` (cleared first), or says
/// what is missing.
pub fn reassemble(rec: &str, out: &mut String) -> Result<(), String> {
    reassemble_noting(rec, out, &mut false)
}

/// [`reassemble`], also setting `error_key` when it reads a top-level `nsgflow_error` key
/// (an earlier stage's dead letter). It reads every top-level key of a record it accepts,
/// so an accepted record without it has no such key.
pub fn reassemble_noting(rec: &str, out: &mut String, error_key: &mut bool) -> Result<(), String> {
    out.clear();
    let mut sc = Scanner::new(rec);
    let mut tuple = None;
    let mut rule = None;
    let mut mac = None;
    let mut acl = None;
    let mut version = None;
    let mut vnet = false;
    let bad = |e: nsgflow::json::JsonError| format!("the record is not valid JSON: {e}");
    sc.begin_object().map_err(|_| {
        "expected a JSON object (a split-tuple record, see nsgflow's wasm/README.md)".to_string()
    })?;
    let mut first = true;
    while let Some(key) = sc.next_key(first).map_err(bad)? {
        first = false;
        let is_string = sc.peek() == Some(b'"');
        let value = sc.skip_value().map_err(bad)?;
        match key.as_ref() {
            "tuple" if is_string => tuple = Some(value),
            "rule" if is_string => rule = Some(value),
            "mac" if is_string => mac = Some(value),
            "aclID" if is_string => acl = Some(value),
            "version" => version = Some(value),
            "flowLogVersion" => vnet = true,
            "category" => vnet |= value.trim_matches('"') == VNET_CATEGORY,
            ERROR_KEY => *error_key = true,
            "properties" | "flowRecords" => {
                return Err(format!(
                    "the record still holds `{key}`: it is a whole flow-log record, not one tuple; split it first (nsgflow_explode.lua) or read whole records with in_exec_wasi"
                ))
            }
            _ => {}
        }
    }
    let close = sc.pos() - 1;
    if !sc.at_end() {
        return Err(format!(
            "text after the record's closing brace at byte {}",
            sc.pos()
        ));
    }
    let tuple = tuple.ok_or("no `tuple` string: expected the raw flow tuple in `tuple`")?;
    let rule = rule.ok_or("no `rule` string: expected the flow group's rule in `rule`")?;
    let body = rec[..close].trim_end();
    out.reserve(body.len() + tuple.len() + 160);
    out.push_str(body);
    if !body.ends_with('{') {
        out.push(',');
    }
    if vnet {
        out.push_str(r#""flowRecords":{"flows":[{"#);
        if let Some(acl) = acl {
            out.push_str(r#""aclID":"#);
            out.push_str(acl);
            out.push(',');
        }
        out.push_str(r#""flowGroups":[{"rule":"#);
        out.push_str(rule);
        out.push_str(r#","flowTuples":["#);
        out.push_str(tuple);
        out.push_str("]}]}]}}");
    } else {
        let version = version.ok_or(
            "no `version`: an NSG split-tuple record carries `properties.Version` (1 or 2) as `version`",
        )?;
        out.push_str(r#""properties":{"Version":"#);
        out.push_str(version);
        out.push_str(r#","flows":[{"rule":"#);
        out.push_str(rule);
        out.push_str(r#","flows":[{"#);
        if let Some(mac) = mac {
            out.push_str(r#""mac":"#);
            out.push_str(mac);
            out.push(',');
        }
        out.push_str(r#""flowTuples":["#);
        out.push_str(tuple);
        out.push_str("]}]}]}}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vnet_record_reassembles_with_acl() {
        let rec = r#"{"time":"T","flowLogVersion":4,"macAddress":"00224871C205","rule":"R","aclID":"A","tuple":"t"}"#;
        let mut out = String::new();
        reassemble(rec, &mut out).unwrap();
        assert!(out.ends_with(
            r#","flowRecords":{"flows":[{"aclID":"A","flowGroups":[{"rule":"R","flowTuples":["t"]}]}]}}"#
        ));
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["flowLogVersion"], 4);
    }

    #[test]
    fn missing_and_wrong_fields_are_named() {
        let mut out = String::new();
        for (rec, want) in [
            (r#"{"rule":"R","version":2}"#, "no `tuple`"),
            (r#"{"tuple":"t","version":2}"#, "no `rule`"),
            (r#"{"tuple":"t","rule":"R"}"#, "no `version`"),
            (
                r#"{"tuple":"t","rule":"R","properties":{}}"#,
                "whole flow-log record",
            ),
            (r#"[1]"#, "expected a JSON object"),
            (r#"{"tuple":"t""#, "not valid JSON"),
            (r#"{"tuple":"t"} x"#, "after the record"),
            ("", "expected a JSON object"),
        ] {
            let e = reassemble(rec, &mut out).unwrap_err();
            assert!(e.contains(want), "{rec}: {e}");
        }
    }
}
