//! A stand-in for Vector's `get_enrichment_table_record` (it lives in Vector, not in the
//! `vrl` crate), over one in-memory CSV-like table, exact matches only, as Vector's `file`
//! tables do: one row -> the row; none or several -> an error.

use vrl::compiler::prelude::*;

/// The rows of the test table `nsgflow_blocklist` (header `ip,list,category`).
pub const BLOCKLIST: &[[&str; 3]] = &[
    ["45.148.10.62", "feodo", "botnet_cc"],
    ["89.248.165.83", "ipsum", "scanner"],
    // A CIDR row: a CSV table matches it only as the text `45.148.10.0/24`.
    ["45.148.10.0/24", "firehol_level1", "attacks"],
];

#[derive(Clone, Copy, Debug)]
pub struct GetEnrichmentTableRecord;

impl Function for GetEnrichmentTableRecord {
    fn identifier(&self) -> &'static str {
        "get_enrichment_table_record"
    }

    fn usage(&self) -> &'static str {
        "Test stand-in for Vector's enrichment-table lookup."
    }

    fn category(&self) -> &'static str {
        "Enrichment"
    }

    fn return_kind(&self) -> u16 {
        kind::OBJECT
    }

    fn parameters(&self) -> &'static [Parameter] {
        const PARAMETERS: &[Parameter] = &[
            Parameter::required("table", kind::BYTES, "table name"),
            Parameter::required("condition", kind::OBJECT, "exact-match condition"),
            Parameter::optional("select", kind::ARRAY, "fields to return"),
            Parameter::optional("case_sensitive", kind::BOOLEAN, "case sensitivity"),
        ];
        PARAMETERS
    }

    fn examples(&self) -> &'static [Example] {
        &[]
    }

    fn compile(
        &self,
        _state: &state::TypeState,
        _ctx: &mut FunctionCompileContext,
        arguments: ArgumentList,
    ) -> Compiled {
        Ok(Lookup {
            table: arguments.required("table"),
            condition: arguments.required("condition"),
        }
        .as_expr())
    }
}

#[derive(Debug, Clone)]
struct Lookup {
    table: Box<dyn Expression>,
    condition: Box<dyn Expression>,
}

impl FunctionExpression for Lookup {
    fn resolve(&self, ctx: &mut Context) -> Resolved {
        let table = self.table.resolve(ctx)?;
        if table.try_bytes_utf8_lossy()? != "nsgflow_blocklist" {
            return Err("no such enrichment table".into());
        }
        let condition = self.condition.resolve(ctx)?;
        let ip = condition
            .as_object()
            .and_then(|c| c.get("ip"))
            .and_then(Value::to_str_lossy)
            .ok_or("condition needs `ip`")?
            .to_string();
        let rows: Vec<&[&str; 3]> = BLOCKLIST.iter().filter(|r| r[0] == ip).collect();
        match rows.as_slice() {
            [row] => Ok(Value::from(serde_json::json!({
                "ip": row[0], "list": row[1], "category": row[2]
            }))),
            [] => Err("no rows found".into()),
            _ => Err("more than one row found".into()),
        }
    }

    fn type_def(&self, _: &state::TypeState) -> TypeDef {
        TypeDef::object(Collection::any()).fallible()
    }
}
