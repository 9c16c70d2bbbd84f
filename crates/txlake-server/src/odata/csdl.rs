//! `$metadata`: the model as CSDL XML (EDMX 4.0), which Power BI's navigator, Excel and
//! OData client libraries read to learn the entity sets, their keys, types and relations.

use std::fmt::Write as _;

use arrow::datatypes::DataType;

use super::model::{CONTAINER, EntitySet, Model, NAMESPACE};

/// The Core vocabulary, for `Core.Description`.
const CORE_VOCABULARY: &str = "https://oasis-tcs.github.io/odata-vocabularies/vocabularies/Org.OData.Core.V1.xml";

/// The EDM type of a served Arrow type, with its facets as XML attributes.
pub fn edm_type(data_type: &DataType) -> (&'static str, String) {
    match data_type {
        DataType::Boolean => ("Edm.Boolean", String::new()),
        DataType::Int8 => ("Edm.SByte", String::new()),
        DataType::Int16 => ("Edm.Int16", String::new()),
        DataType::Int32 => ("Edm.Int32", String::new()),
        DataType::Int64 => ("Edm.Int64", String::new()),
        DataType::Float32 => ("Edm.Single", String::new()),
        DataType::Float64 => ("Edm.Double", String::new()),
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => {
            ("Edm.Decimal", format!(r#" Precision="{p}" Scale="{s}""#))
        }
        DataType::Date32 => ("Edm.Date", String::new()),
        DataType::Timestamp(..) => ("Edm.DateTimeOffset", r#" Precision="6""#.to_string()),
        _ => ("Edm.String", String::new()),
    }
}

/// The `$metadata` document.
pub fn metadata(model: &Model) -> String {
    let mut xml = String::with_capacity(64 * 1024);
    xml.push_str(r#"<?xml version="1.0" encoding="utf-8"?>"#);
    xml.push_str(r#"<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx" Version="4.0">"#);
    let _ = write!(
        xml,
        r#"<edmx:Reference Uri="{CORE_VOCABULARY}"><edmx:Include Namespace="Org.OData.Core.V1" Alias="Core"/></edmx:Reference>"#
    );
    let _ = write!(
        xml,
        r#"<edmx:DataServices><Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="{NAMESPACE}">"#
    );
    for set in &model.sets {
        entity_type(&mut xml, set);
    }
    let _ = write!(xml, r#"<EntityContainer Name="{CONTAINER}">"#);
    for set in &model.sets {
        let _ = write!(xml, r#"<EntitySet Name="{0}" EntityType="{NAMESPACE}.{0}">"#, set.name);
        for navigation in &set.navigation {
            let _ = write!(
                xml,
                r#"<NavigationPropertyBinding Path="{}" Target="{}"/>"#,
                navigation.name, navigation.target
            );
        }
        description(&mut xml, &set.description);
        xml.push_str("</EntitySet>");
    }
    xml.push_str("</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>");
    xml
}

fn entity_type(xml: &mut String, set: &EntitySet) {
    let _ = write!(xml, r#"<EntityType Name="{}">"#, set.name);
    if !set.key.is_empty() {
        xml.push_str("<Key>");
        for key in &set.key {
            let _ = write!(xml, r#"<PropertyRef Name="{key}"/>"#);
        }
        xml.push_str("</Key>");
    }
    for property in &set.properties {
        let (edm, facets) = edm_type(&property.data_type);
        let _ = write!(xml, r#"<Property Name="{}" Type="{edm}"{facets}"#, property.name);
        if !property.nullable {
            xml.push_str(r#" Nullable="false""#);
        }
        match &property.description {
            Some(text) => {
                xml.push('>');
                description(xml, text);
                xml.push_str("</Property>");
            }
            None => xml.push_str("/>"),
        }
    }
    for navigation in &set.navigation {
        let _ = write!(
            xml,
            r#"<NavigationProperty Name="{}" Type="{NAMESPACE}.{}"><ReferentialConstraint Property="{}" ReferencedProperty="{}"/></NavigationProperty>"#,
            navigation.name, navigation.target, navigation.column, navigation.target_key
        );
    }
    description(xml, &set.description);
    xml.push_str("</EntityType>");
}

fn description(xml: &mut String, text: &str) {
    if !text.is_empty() {
        let _ = write!(xml, r#"<Annotation Term="Core.Description" String="{}"/>"#, escape(text));
    }
}

/// Text made safe for an XML attribute.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' | '\r' | '\t' => out.push(' '),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::model::{Navigation, Property, Source};
    use super::*;

    #[test]
    fn the_document_declares_keys_types_relations_and_descriptions() {
        let set = EntitySet {
            name: "tickets".into(),
            source: Source::View("tickets".into()),
            description: "Support cases & <their> \"agents\"".into(),
            properties: vec![
                Property {
                    name: "ticket_key".into(),
                    data_type: DataType::Utf8,
                    nullable: false,
                    description: Some("the key".into()),
                },
                Property { name: "customer_key".into(), data_type: DataType::Utf8, nullable: true, description: None },
                Property {
                    name: "amount".into(),
                    data_type: DataType::Decimal128(12, 2),
                    nullable: true,
                    description: None,
                },
            ],
            key: vec!["ticket_key".into()],
            navigation: vec![Navigation {
                name: "customer".into(),
                column: "customer_key".into(),
                target: "customers".into(),
                target_key: "customer_key".into(),
            }],
        };
        let xml = metadata(&Model { sets: vec![set] });
        for part in [
            r#"<Key><PropertyRef Name="ticket_key"/></Key>"#,
            r#"<Property Name="ticket_key" Type="Edm.String" Nullable="false"><Annotation Term="Core.Description" String="the key"/></Property>"#,
            r#"<Property Name="amount" Type="Edm.Decimal" Precision="12" Scale="2"/>"#,
            r#"<ReferentialConstraint Property="customer_key" ReferencedProperty="customer_key"/>"#,
            r#"<NavigationPropertyBinding Path="customer" Target="customers"/>"#,
            "Support cases &amp; &lt;their&gt; &quot;agents&quot;",
        ] {
            assert!(xml.contains(part), "missing {part} in {xml}");
        }
    }
}
