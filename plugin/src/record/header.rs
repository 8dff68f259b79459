//! Record headers: reading a record's top-level keys and identifying what it is (NSG
//! Version 1/2, VNet flowLogVersion 4, or why it is neither).

use std::borrow::Cow;

use crate::json::{JsonError, Scanner};
use crate::rejection::reason;

use super::{FlowLogKind, RecordHeader, NSG_CATEGORY, VNET_CATEGORY};

/// What a record is: its kind, its version and where its flows array starts (`None` when
/// it has none), or the reason code and detail of why it is not a record nsgflow reads.
pub(super) fn identify(
    text: &str,
    header: &RecordHeader<'_>,
) -> Result<(FlowLogKind, u64, Option<usize>), (&'static str, String)> {
    if header.nested_records {
        return Err((reason::NESTED_RECORDS, "a `records` array inside a record: this is the shape of the Microsoft docs sample bug (MicrosoftDocs/azure-docs#106229), not Azure output; its inner records were not read".into()));
    }
    if let Some(c) = header.category.as_deref() {
        if c != NSG_CATEGORY && c != VNET_CATEGORY {
            return Err((reason::NOT_A_FLOW_LOG, format!("record category `{c}` is not a flow log (expected `{NSG_CATEGORY}` or `{VNET_CATEGORY}`)")));
        }
    }
    match (header.properties, header.flow_records) {
        (_, Some(flow_records)) => match header.flow_log_version {
            Some(4) => Ok((FlowLogKind::Vnet, 4, Some(flow_records))),
            Some(v) => Err((
                reason::UNSUPPORTED_VERSION,
                format!("VNet flowLogVersion {v} is not supported (nsgflow reads version 4)"),
            )),
            None => Err((
                reason::UNSUPPORTED_VERSION,
                "VNet record has no numeric `flowLogVersion` (expected 4)".into(),
            )),
        },
        (Some(properties), None) => {
            let read;
            let props = match &header.nsg_properties {
                Some(read) => read,
                None => {
                    read = nsg_properties(&mut Scanner::at(text, properties));
                    &read
                }
            };
            let props = props.as_ref().map_err(|e| {
                (
                    reason::BAD_FLOW_GROUP,
                    format!("`properties`: {e} (offset in the input)"),
                )
            })?;
            Ok((FlowLogKind::Nsg, props.version.clone()?, props.flows))
        }
        (None, None) => Err((
            reason::NOT_A_FLOW_LOG,
            "object has neither `properties` (NSG flow log) nor `flowRecords` (VNet flow log)"
                .into(),
        )),
    }
}

/// A string value, or `None` (skipping the value) when it is not a string.
pub(super) fn opt_string<'a>(sc: &mut Scanner<'a>) -> Result<Option<Cow<'a, str>>, JsonError> {
    if sc.peek() == Some(b'"') {
        sc.string().map(Some)
    } else {
        sc.skip_value().map(|_| None)
    }
}

/// Reads one record-header key's value into `h`, skipping (and remembering) the rest.
pub(super) fn header_field<'a>(
    sc: &mut Scanner<'a>,
    key: &str,
    h: &mut RecordHeader<'a>,
) -> Result<(), JsonError> {
    let slot = match key {
        "time" => &mut h.time,
        "category" => &mut h.category,
        "operationName" => &mut h.operation_name,
        "macAddress" => &mut h.mac_address,
        "systemId" => &mut h.system_id,
        "resourceId" => &mut h.resource_id,
        "flowLogGUID" => &mut h.flow_log_guid,
        "flowLogResourceID" => &mut h.flow_log_resource_id,
        "targetResourceID" => &mut h.target_resource_id,
        "flowLogVersion" => {
            h.flow_log_version = match sc.peek() {
                Some(b'0'..=b'9') => Some(sc.u64()?),
                _ => {
                    sc.skip_value()?;
                    None
                }
            };
            return Ok(());
        }
        "properties" => {
            // Read as the NSG `properties` object in this one pass (its `flows` are
            // skipped once, not once here and again to identify the record). Where that
            // fails, the value is skipped as any other and `identify` reports why.
            sc.skip_ws();
            let start = sc.pos();
            h.properties = Some(start);
            let read = nsg_properties(sc);
            if read.is_err() {
                sc.set_pos(start);
                sc.skip_value()?;
            }
            h.nsg_properties = Some(read);
            return Ok(());
        }
        "flowRecords" => {
            sc.skip_ws();
            h.flow_records = Some(sc.pos());
            sc.skip_value()?;
            return Ok(());
        }
        "records" => {
            h.nested_records = true;
            sc.skip_value()?;
            return Ok(());
        }
        _ => {
            sc.skip_value()?;
            return Ok(());
        }
    };
    *slot = opt_string(sc)?;
    Ok(())
}

#[derive(Debug, Clone)]
pub(crate) struct NsgProperties {
    /// The version, or the reason code and detail of why it cannot be read.
    version: Result<u64, (&'static str, String)>,
    /// Offset of the `flows` array.
    flows: Option<usize>,
}

fn nsg_properties(sc: &mut Scanner<'_>) -> Result<NsgProperties, JsonError> {
    let mut version: Option<Result<u64, (&'static str, String)>> = None;
    let mut flows = None;
    sc.begin_object()?;
    let mut first = true;
    while let Some(key) = sc.next_key(first)? {
        first = false;
        match key.as_ref() {
            "Version" => {
                version = Some(match sc.peek() {
                    Some(b'0'..=b'9') => match sc.u64()? {
                        v @ (1 | 2) => Ok(v),
                        v => Err((
                            reason::UNSUPPORTED_VERSION,
                            format!(
                                "NSG flow log Version {v} is not supported (nsgflow reads 1 and 2)"
                            ),
                        )),
                    },
                    Some(b'"') => {
                        let v = sc.string()?;
                        Err((reason::NOT_A_FLOW_LOG, format!("`Version` is the string \"{v}\", not a number: Azure Network Watcher writes a number. A string version with `portId`/`portName` flows is the Azure Stack HCI / Windows Server SDN Datacenter Firewall audit log, a different product nsgflow does not read")))
                    }
                    _ => {
                        let v = sc.skip_value()?;
                        Err((
                            reason::UNSUPPORTED_VERSION,
                            format!("`Version` is `{v}`, expected 1 or 2"),
                        ))
                    }
                });
            }
            "flows" => {
                sc.skip_ws();
                flows = Some(sc.pos());
                sc.skip_value()?;
            }
            _ => {
                sc.skip_value()?;
            }
        }
    }
    let version = version.unwrap_or_else(|| {
        Err((
            reason::UNSUPPORTED_VERSION,
            "NSG record has no `properties.Version`".into(),
        ))
    });
    Ok(NsgProperties { version, flows })
}
