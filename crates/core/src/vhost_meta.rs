//! A vhost's metadata, as RabbitMQ keeps it: `description`, `tags` and `default_queue_type`
//! (set by `PUT /api/vhosts/{name}` and definitions, shown by the API and exported).

use serde_json::{json, Map, Value};

/// What `PUT /api/vhosts/{name}` sets besides the name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VHostMetadata {
    pub description: String,
    pub tags: Vec<String>,
    /// `None`: not set (RabbitMQ answers `classic`, its default).
    pub default_queue_type: Option<String>,
}

impl VHostMetadata {
    /// Reads the fields from a vhost object (API body or definitions entry); they may also sit
    /// in its `metadata` object, as RabbitMQ 4.x exports them. Tags are a list or RabbitMQ's
    /// comma-separated string.
    pub fn from_json(m: &Map<String, Value>) -> VHostMetadata {
        let nested = m.get("metadata").and_then(Value::as_object);
        let field = |k: &str| m.get(k).or_else(|| nested.and_then(|n| n.get(k)));
        let tags = match field("tags") {
            Some(Value::String(s)) => s
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect(),
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            _ => Vec::new(),
        };
        VHostMetadata {
            description: field("description")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            tags,
            default_queue_type: field("default_queue_type")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty() && *t != "undefined")
                .map(str::to_string),
        }
    }

    /// `default_queue_type` as the API shows it.
    pub fn queue_type(&self) -> &str {
        self.default_queue_type.as_deref().unwrap_or("classic")
    }

    /// The `metadata` object of the API and of definitions.
    pub fn to_json(&self) -> Value {
        let mut v = json!({"description": self.description, "tags": self.tags});
        if let Some(t) = &self.default_queue_type {
            v["default_queue_type"] = json!(t);
        }
        v
    }

    /// The fields of a definitions `vhosts` entry besides its name (RabbitMQ 4.x's shape).
    pub fn definitions_fields(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("description".into(), json!(self.description));
        m.insert("tags".into(), json!(self.tags));
        if let Some(t) = &self.default_queue_type {
            m.insert("default_queue_type".into(), json!(t));
        }
        m.insert("metadata".into(), self.to_json());
        m
    }
}
