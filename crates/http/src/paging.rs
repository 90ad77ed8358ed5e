//! RabbitMQ's list query parameters: `page`, `page_size`, `name` (+ `use_regex`), `sort`,
//! `sort_reverse`, `columns`.
//!
//! Without `page` a list is a plain JSON array; with it, an object with `items` and the counts
//! (`filtered_count`, `item_count`, `page`, `page_count`, `page_size`, `total_count`).
//! Listing 10,000 queues stays cheap: when the sort key is the name (the default), items are
//! filtered and paged by name first and only the page's items are turned into JSON; a list
//! that knows some keys without its JSON (a queue's counts) sorts on those the same way.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::ApiError;

const MAX_PAGE_SIZE: usize = 500;

#[derive(Debug, Default, Clone, Deserialize)]
pub struct ListQuery {
    pub page: Option<String>,
    pub page_size: Option<String>,
    pub name: Option<String>,
    pub use_regex: Option<String>,
    pub sort: Option<String>,
    pub sort_reverse: Option<String>,
    pub columns: Option<String>,
}

fn truthy(v: &Option<String>) -> bool {
    v.as_deref().is_some_and(|s| s == "true" || s == "1")
}

enum NameFilter {
    None,
    Substring(String),
    Regex(regex::Regex),
}

impl NameFilter {
    fn matches(&self, name: &str) -> bool {
        match self {
            NameFilter::None => true,
            NameFilter::Substring(s) => name.contains(s.as_str()),
            NameFilter::Regex(r) => r.is_match(name),
        }
    }
}

impl ListQuery {
    fn filter(&self) -> Result<NameFilter, ApiError> {
        match self.name.as_deref() {
            None | Some("") => Ok(NameFilter::None),
            Some(n) if truthy(&self.use_regex) => regex::Regex::new(n)
                .map(NameFilter::Regex)
                .map_err(|e| ApiError::bad_request(format!("invalid regex '{n}': {e}"))),
            Some(n) => Ok(NameFilter::Substring(n.to_string())),
        }
    }

    /// (page, page_size) when paging was asked for.
    fn paging(&self) -> Result<Option<(usize, usize)>, ApiError> {
        let Some(page) = &self.page else {
            return Ok(None);
        };
        let page: usize = page
            .parse()
            .ok()
            .filter(|p| *p >= 1)
            .ok_or_else(|| ApiError::bad_request("page must be a positive integer"))?;
        let size = match &self.page_size {
            None => 100,
            Some(s) => s
                .parse()
                .ok()
                .filter(|s| (1..=MAX_PAGE_SIZE).contains(s))
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "page_size must be between 1 and {MAX_PAGE_SIZE}"
                    ))
                })?,
        };
        Ok(Some((page, size)))
    }

    fn sort_keys(&self) -> Vec<String> {
        self.sort
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| s.split(',').map(str::to_string).collect())
            .unwrap_or_default()
    }

    /// Filters, sorts, pages and projects a list of objects. `name_of` gives the name the
    /// `name` filter and the default order use; `build` turns an item into its JSON.
    pub fn apply<T>(
        &self,
        items: Vec<T>,
        name_of: impl Fn(&T) -> (String, String),
        build: impl Fn(&T) -> Value,
    ) -> Result<Value, ApiError> {
        self.apply_keyed(items, name_of, |_, _| None, build)
    }

    /// [`apply`](Self::apply) where `key_of(item, key)` gives some sort keys without building
    /// the item's JSON (the same value `build` would put at that dotted path), or `None` for a
    /// key it does not know. When it knows every sort key, only the page's items are built:
    /// the dashboard's "busiest queues" (`sort=messages`, 10 of 10,000 queues) builds 10.
    pub fn apply_keyed<T>(
        &self,
        mut items: Vec<T>,
        name_of: impl Fn(&T) -> (String, String),
        key_of: impl Fn(&T, &str) -> Option<Value>,
        build: impl Fn(&T) -> Value,
    ) -> Result<Value, ApiError> {
        let filter = self.filter()?;
        let paging = self.paging()?;
        let total = items.len();
        items.retain(|t| filter.matches(&name_of(t).1));
        let filtered = items.len();
        let keys = self.sort_keys();
        let reverse = truthy(&self.sort_reverse);
        let by_name = keys.is_empty() || keys.iter().all(|k| k == "name" || k == "vhost");
        let mut values: Vec<Value> = if by_name {
            // Sort on the names, page, then build only the page.
            let mut named: Vec<((String, String), T)> =
                items.into_iter().map(|t| (name_of(&t), t)).collect();
            let vhost_first = keys.first().is_some_and(|k| k == "vhost");
            named.sort_by(|a, b| {
                let (av, an) = &a.0;
                let (bv, bn) = &b.0;
                if vhost_first {
                    (av, an).cmp(&(bv, bn))
                } else {
                    (an, av).cmp(&(bn, bv))
                }
            });
            if reverse {
                named.reverse();
            }
            let page = page_slice(named.len(), paging)?;
            named[page].iter().map(|(_, t)| build(t)).collect()
        } else if items
            .first()
            .is_some_and(|t| keys.iter().all(|k| key_of(t, k).is_some()))
        {
            // Sort on the keys alone, page, then build only the page (same stable order as
            // sorting the built objects: ties keep the listing's order).
            let mut keyed: Vec<(Vec<Option<Value>>, T)> = items
                .into_iter()
                .map(|t| (keys.iter().map(|k| key_of(&t, k)).collect(), t))
                .collect();
            keyed.sort_by(|a, b| {
                a.0.iter()
                    .zip(&b.0)
                    .map(|(x, y)| compare(x.as_ref(), y.as_ref()))
                    .find(|o| o.is_ne())
                    .unwrap_or(std::cmp::Ordering::Equal)
            });
            if reverse {
                keyed.reverse();
            }
            let page = page_slice(keyed.len(), paging)?;
            keyed[page].iter().map(|(_, t)| build(t)).collect()
        } else {
            let mut all: Vec<Value> = items.iter().map(&build).collect();
            all.sort_by(|a, b| {
                for k in &keys {
                    let o = compare(lookup(a, k), lookup(b, k));
                    if o != std::cmp::Ordering::Equal {
                        return o;
                    }
                }
                std::cmp::Ordering::Equal
            });
            if reverse {
                all.reverse();
            }
            let page = page_slice(all.len(), paging)?;
            all.drain(page).collect()
        };
        if let Some(cols) = self.columns.as_deref().filter(|c| !c.is_empty()) {
            let cols: Vec<&str> = cols.split(',').collect();
            values = values.iter().map(|v| project(v, &cols)).collect();
        }
        Ok(match paging {
            None => Value::Array(values),
            Some((page, size)) => serde_json::json!({
                "filtered_count": filtered,
                "item_count": values.len(),
                "items": values,
                "page": page,
                "page_count": filtered.div_ceil(size).max(1),
                "page_size": size,
                "total_count": total,
            }),
        })
    }

    /// `columns` on a single object.
    pub fn project_one(&self, v: Value) -> Value {
        match self.columns.as_deref().filter(|c| !c.is_empty()) {
            Some(cols) => project(&v, &cols.split(',').collect::<Vec<_>>()),
            None => v,
        }
    }
}

fn page_slice(
    len: usize,
    paging: Option<(usize, usize)>,
) -> Result<std::ops::Range<usize>, ApiError> {
    match paging {
        None => Ok(0..len),
        Some((page, size)) => {
            let start = (page - 1) * size;
            if start > len || (start == len && len > 0) {
                return Err(ApiError::bad_request("page_out_of_range"));
            }
            Ok(start..(start + size).min(len))
        }
    }
}

/// A dotted path (`message_stats.publish_details.rate`) into a JSON object.
fn lookup<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |v, k| v.get(k))
}

fn compare(a: Option<&Value>, b: Option<&Value>) -> std::cmp::Ordering {
    use std::cmp::Ordering::*;
    match (a, b) {
        (None, None) => Equal,
        (None, Some(_)) => Less,
        (Some(_), None) => Greater,
        (Some(a), Some(b)) => match (a, b) {
            (Value::Number(x), Value::Number(y)) => x
                .as_f64()
                .unwrap_or(0.0)
                .partial_cmp(&y.as_f64().unwrap_or(0.0))
                .unwrap_or(Equal),
            (Value::String(x), Value::String(y)) => x.cmp(y),
            (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
            _ => a.to_string().cmp(&b.to_string()),
        },
    }
}

/// Keeps only the given (dotted) columns of an object, nested as they were.
fn project(v: &Value, cols: &[&str]) -> Value {
    let mut out = Map::new();
    for c in cols {
        let parts: Vec<&str> = c.split('.').collect();
        if let Some(x) = lookup(v, c) {
            insert_path(&mut out, &parts, x.clone());
        }
    }
    Value::Object(out)
}

fn insert_path(m: &mut Map<String, Value>, parts: &[&str], v: Value) {
    match parts {
        [] => {}
        [last] => {
            m.insert(last.to_string(), v);
        }
        [first, rest @ ..] => {
            let e = m
                .entry(first.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(inner) = e {
                insert_path(inner, rest, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn q(page: Option<&str>, size: Option<&str>) -> ListQuery {
        ListQuery {
            page: page.map(str::to_string),
            page_size: size.map(str::to_string),
            ..ListQuery::default()
        }
    }

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("q{i:03}")).collect()
    }

    fn run(query: &ListQuery, items: Vec<String>) -> Result<Value, ApiError> {
        query.apply(
            items,
            |s| ("/".to_string(), s.clone()),
            |s| json!({"name": s, "vhost": "/", "n": s[1..].parse::<u32>().unwrap(), "a": {"b": 1, "c": 2}}),
        )
    }

    #[test]
    fn pages_and_counts() {
        let v = run(&q(Some("2"), Some("10")), names(25)).unwrap();
        assert_eq!(v["page"], 2);
        assert_eq!(v["page_count"], 3);
        assert_eq!(v["item_count"], 10);
        assert_eq!(v["total_count"], 25);
        assert_eq!(v["items"][0]["name"], "q010");
        let last = run(&q(Some("3"), Some("10")), names(25)).unwrap();
        assert_eq!(last["item_count"], 5);
        assert!(run(&q(Some("4"), Some("10")), names(25)).is_err());
        assert!(run(&q(Some("1"), Some("501")), names(25)).is_err());
        assert!(run(&q(Some("0"), None), names(25)).is_err());
    }

    #[test]
    fn keyed_sort_builds_only_the_page_and_orders_as_the_full_sort() {
        use std::cell::Cell;
        // n: the number in the name; m: n mod 7, so there are ties (kept in listing order).
        let json_of = |s: &String| {
            let n = s[1..].parse::<u32>().unwrap();
            json!({"name": s, "vhost": "/", "n": n, "m": n % 7, "a": {"b": n % 3}})
        };
        let name_of = |s: &String| ("/".to_string(), s.clone());
        let known = |s: &String, k: &str| {
            (k == "n" || k == "m")
                .then(|| json_of(s).get(k).cloned())
                .flatten()
        };
        for (sort, reverse) in [
            ("m", "true"),
            ("m", "false"),
            ("m,n", "true"),
            ("n", "false"),
        ] {
            let mut query = q(Some("2"), Some("5"));
            query.sort = Some(sort.into());
            query.sort_reverse = Some(reverse.into());
            let full = query.apply(names(40), name_of, json_of).unwrap();
            let built = Cell::new(0);
            let keyed = query
                .apply_keyed(names(40), name_of, known, |s| {
                    built.set(built.get() + 1);
                    json_of(s)
                })
                .unwrap();
            assert_eq!(keyed, full, "sort={sort} reverse={reverse}");
            assert_eq!(built.get(), 5, "sort={sort}: only the page is built");
        }
        // A key key_of does not know: every item is built, and the order is the full sort's.
        let mut query = q(Some("1"), Some("5"));
        query.sort = Some("a.b".into());
        let full = query.apply(names(40), name_of, json_of).unwrap();
        let built = Cell::new(0);
        let keyed = query
            .apply_keyed(names(40), name_of, known, |s| {
                built.set(built.get() + 1);
                json_of(s)
            })
            .unwrap();
        assert_eq!(keyed, full);
        assert_eq!(built.get(), 40);
    }

    #[test]
    fn filters_sorts_and_projects() {
        let mut query = q(None, None);
        query.name = Some("q01".into());
        let v = run(&query, names(30)).unwrap();
        assert_eq!(v.as_array().unwrap().len(), 10);
        query.name = Some("^q0[02]5$".into());
        query.use_regex = Some("true".into());
        let v = run(&query, names(30)).unwrap();
        assert_eq!(
            v,
            json!([{"name":"q005","vhost":"/","n":5,"a":{"b":1,"c":2}},{"name":"q025","vhost":"/","n":25,"a":{"b":1,"c":2}}])
        );
        let mut sorted = q(None, None);
        sorted.sort = Some("n".into());
        sorted.sort_reverse = Some("true".into());
        sorted.columns = Some("name,a.b".into());
        let v = run(&sorted, names(3)).unwrap();
        assert_eq!(
            v,
            json!([{"name":"q002","a":{"b":1}},{"name":"q001","a":{"b":1}},{"name":"q000","a":{"b":1}}])
        );
    }
}
