//! Which blobs to look at: only the recent hours. Azure's layout puts the date after the
//! resource path (`resourceId=/SUBSCRIPTIONS/.../NSG-X/y=2026/m=03/d=02/h=10/m=00/macAddress=.../PT1H.json`),
//! so the reader first finds the resource folders (the folders that hold `y=` folders,
//! walking folder names with a `/` delimiter, never the hourly blobs), then lists only
//! `<resource>/y=YYYY/m=MM/d=DD/h=HH/` for the last few hours on each poll.

use crate::time::civil_from_days;

/// `y=YYYY/m=MM/d=DD/h=HH/` for the hour holding `unix_secs` and the `count - 1` before it,
/// oldest first.
pub fn hour_prefixes(unix_secs: u64, count: u32) -> Vec<String> {
    let hour = unix_secs / 3600;
    (0..count as u64)
        .rev()
        .filter_map(|back| hour.checked_sub(back))
        .map(|h| {
            let (y, m, d) = civil_from_days((h / 24) as i64);
            format!("y={y:04}/m={m:02}/d={d:02}/h={:02}/", h % 24)
        })
        .collect()
}

/// True for a folder prefix whose last segment is a `y=` (year) folder.
pub fn is_year_folder(prefix: &str) -> bool {
    prefix
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .is_some_and(|s| s.starts_with("y="))
}

/// The most folders one discovery walks (a guard against a container that is not laid
/// out like flow logs).
pub const MAX_FOLDERS: usize = 100_000;

/// Finds the resource folders under `start` by walking folder names: `list(prefix)`
/// returns the sub-folders of `prefix` (a delimiter listing). A folder that holds `y=`
/// folders is a resource folder and is not walked further. `start` itself may be one.
pub fn discover<E>(
    start: &str,
    mut list: impl FnMut(&str) -> Result<Vec<String>, E>,
) -> Result<Vec<String>, E> {
    // A prefix inside the date part (`.../y=2026/...`): its resource folder is before `y=`.
    if let Some(i) = start
        .find("/y=")
        .or_else(|| start.starts_with("y=").then_some(0))
    {
        let root = if i == 0 { "" } else { &start[..=i] };
        return Ok(vec![root.to_string()]);
    }
    let mut found = Vec::new();
    let mut stack = vec![start.to_string()];
    let mut walked = 0usize;
    while let Some(prefix) = stack.pop() {
        walked += 1;
        if walked > MAX_FOLDERS {
            break;
        }
        let subs = list(&prefix)?;
        if subs.iter().any(|s| is_year_folder(s)) {
            found.push(prefix);
            continue;
        }
        // Reverse so the walk goes in listing order.
        stack.extend(subs.into_iter().rev());
    }
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn recent_hours_cross_day_and_year_boundaries() {
        // 2026-01-01T00:30:00Z
        let t = 1_767_227_400;
        assert_eq!(
            hour_prefixes(t, 3),
            vec![
                "y=2025/m=12/d=31/h=22/",
                "y=2025/m=12/d=31/h=23/",
                "y=2026/m=01/d=01/h=00/"
            ]
        );
        assert_eq!(hour_prefixes(t, 1), vec!["y=2026/m=01/d=01/h=00/"]);
    }

    #[test]
    fn discovery_walks_folders_and_stops_at_year_folders() {
        let nsg = "resourceId=/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/";
        let mut tree: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut add = |p: &str, subs: &[&str]| {
            tree.insert(
                p.to_string(),
                subs.iter().map(|s| format!("{p}{s}")).collect(),
            );
        };
        add("", &["resourceId=/"]);
        add("resourceId=/", &["SUBSCRIPTIONS/"]);
        add("resourceId=/SUBSCRIPTIONS/", &["S/"]);
        add("resourceId=/SUBSCRIPTIONS/S/", &["RESOURCEGROUPS/"]);
        add("resourceId=/SUBSCRIPTIONS/S/RESOURCEGROUPS/", &["RG/"]);
        add(
            "resourceId=/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/",
            &["PROVIDERS/"],
        );
        add(
            "resourceId=/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/",
            &["MICROSOFT.NETWORK/"],
        );
        add(
            "resourceId=/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/",
            &["NETWORKSECURITYGROUPS/"],
        );
        add(nsg, &["NSG-A/", "NSG-B/"]);
        add(&format!("{nsg}NSG-A/"), &["y=2025/", "y=2026/"]);
        add(&format!("{nsg}NSG-B/"), &["y=2026/"]);
        let mut calls = Vec::new();
        let found = discover("", |p| {
            calls.push(p.to_string());
            assert!(!p.contains("y="), "walked into a date folder: {p}");
            Ok::<_, ()>(tree.get(p).cloned().unwrap_or_default())
        })
        .unwrap();
        assert_eq!(found, vec![format!("{nsg}NSG-A/"), format!("{nsg}NSG-B/")]);
        assert_eq!(calls.len(), 11);
        // A start inside the date part is its own resource folder, with no listing.
        let found = discover(
            &format!("{nsg}NSG-A/y=2026/"),
            |_| Err::<Vec<String>, _>(()),
        )
        .unwrap();
        assert_eq!(found, vec![format!("{nsg}NSG-A/")]);
    }
}
