//! Names for generated code: Terraform resource labels and Bicep symbolic names.
//!
//! ```
//! use nsgflow::harden::identifier::identifier;
//! assert_eq!(identifier("NSG-HR-FRONTEND_allow-in-tcp-443-p110"), "nsg_hr_frontend_allow_in_tcp_443_p110");
//! assert_eq!(identifier("1st"), "r_1st");
//! ```

/// A Terraform resource label / Bicep symbolic name from any text: lower-case ASCII
/// letters, digits and `_`, starting with a letter.
pub fn identifier(s: &str) -> String {
    let mut id: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if !id.starts_with(|c: char| c.is_ascii_alphabetic()) {
        id.insert_str(0, "r_");
    }
    id
}
