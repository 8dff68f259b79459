//! Names parsed out of Azure resource IDs.
//!
//! `/SUBSCRIPTIONS/{sub}/RESOURCEGROUPS/{rg}/PROVIDERS/{namespace}/{type}/{name}[/{type}/{name}]...`
//! Segment names are matched case-insensitively (NSG logs write them upper case, VNet
//! `targetResourceID`s mixed case); the values are returned as written.
//!
//! ```
//! use nsgflow::resource::ResourceId;
//! let id = ResourceId::parse("/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/RESOURCEGROUPS/FABRIKAMRG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/FABRIAKMVM1-NSG");
//! assert_eq!(id.subscription_id(), Some("00000000-0000-0000-0000-000000000000"));
//! assert_eq!(id.resource_group(), Some("FABRIKAMRG"));
//! assert_eq!(id.child("networkSecurityGroups"), Some("FABRIAKMVM1-NSG"));
//! ```

/// A borrowed view of a resource ID with accessors for its parts. Parsing never fails: a
/// string that is not a resource ID (a bare GUID, say) just has no parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceId<'a> {
    text: &'a str,
}

impl<'a> ResourceId<'a> {
    pub fn parse(text: &'a str) -> Self {
        ResourceId { text }
    }

    pub fn as_str(&self) -> &'a str {
        self.text
    }

    /// The value after segment `key` (case-insensitive), e.g. `child("resourceGroups")`.
    pub fn child(&self, key: &str) -> Option<&'a str> {
        let mut segments = self.text.split('/').filter(|s| !s.is_empty());
        while let Some(seg) = segments.next() {
            if seg.eq_ignore_ascii_case(key) {
                return segments.next();
            }
        }
        None
    }

    /// [`ResourceId::child`] of several keys in one pass over the ID (each key found as
    /// `child` would find it on its own).
    pub fn children<const N: usize>(&self, keys: [&str; N]) -> [Option<&'a str>; N] {
        let mut found = [None; N];
        // Per key: 0 looking for it, 1 its value is next, 2 done.
        let mut state = [0u8; N];
        for seg in self.text.split('/').filter(|s| !s.is_empty()) {
            for k in 0..N {
                match state[k] {
                    0 if seg.eq_ignore_ascii_case(keys[k]) => state[k] = 1,
                    1 => {
                        found[k] = Some(seg);
                        state[k] = 2;
                    }
                    _ => {}
                }
            }
            if state.iter().all(|&s| s == 2) {
                break;
            }
        }
        found
    }

    pub fn subscription_id(&self) -> Option<&'a str> {
        self.child("subscriptions")
    }

    pub fn resource_group(&self) -> Option<&'a str> {
        self.child("resourceGroups")
    }

    /// The last `{type}/{name}` pair after `providers/{namespace}`: the resource itself.
    pub fn leaf(&self) -> Option<(&'a str, &'a str)> {
        let lower_providers = self
            .text
            .as_bytes()
            .windows(11)
            .position(|w| w.eq_ignore_ascii_case(b"/providers/"))?;
        let rest = &self.text[lower_providers + 11..];
        // After the namespace come `{type}/{name}` pairs; keep the last complete pair.
        let mut segs = rest.split('/').filter(|s| !s.is_empty()).skip(1);
        let mut leaf = None;
        while let (Some(t), Some(n)) = (segs.next(), segs.next()) {
            leaf = Some((t, n));
        }
        leaf
    }
}

/// A short, stable name for an Azure resource type, for the `target_resource_type` label.
pub fn short_type(resource_type: &str) -> &str {
    const TYPES: [(&str, &str); 5] = [
        ("virtualNetworks", "vnet"),
        ("subnets", "subnet"),
        ("networkInterfaces", "nic"),
        ("networkSecurityGroups", "nsg"),
        ("flowLogs", "flow_log"),
    ];
    TYPES
        .iter()
        .find(|(t, _)| t.eq_ignore_ascii_case(resource_type))
        .map(|&(_, short)| short)
        .unwrap_or(resource_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vnet_targets() {
        let vnet = ResourceId::parse("/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/myVNet");
        assert_eq!(vnet.leaf(), Some(("virtualNetworks", "myVNet")));
        let subnet = ResourceId::parse("/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/web");
        assert_eq!(subnet.leaf(), Some(("subnets", "web")));
        assert_eq!(subnet.child("virtualNetworks"), Some("v"));
        let fl = ResourceId::parse("/SUBSCRIPTIONS/S/RESOURCEGROUPS/NETWORKWATCHERRG/PROVIDERS/MICROSOFT.NETWORK/NETWORKWATCHERS/NETWORKWATCHER_EASTUS/FLOWLOGS/VNETFLOWLOG");
        assert_eq!(fl.child("flowLogs"), Some("VNETFLOWLOG"));
        assert_eq!(short_type("VIRTUALNETWORKS"), "vnet");
        assert_eq!(short_type("applicationGateways"), "applicationGateways");
    }

    #[test]
    fn children_in_one_pass_as_child_finds_each() {
        let keys = ["subscriptions", "resourceGroups", "networkSecurityGroups"];
        for text in [
            "/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/NSG",
            "/subscriptions/resourceGroups/resourceGroups/networkSecurityGroups",
            "//subscriptions//s/networkSecurityGroups",
            "/subscriptions",
            "resourceGroups/rg/subscriptions/s",
            "",
        ] {
            let id = ResourceId::parse(text);
            assert_eq!(id.children(keys), keys.map(|k| id.child(k)), "{text}");
        }
    }

    #[test]
    fn not_a_resource_id() {
        let guid = ResourceId::parse("394f647d-2ed0-4c31-87c5-389b8c0c8132");
        assert_eq!(guid.subscription_id(), None);
        assert_eq!(guid.leaf(), None);
    }
}
